"""Rate limits that hold against the real intake and broker: an IPv6 client is its
/64, and a flood of identical resends leaves one submission on the audit log."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime

import aiohttp
import pytest

from streams.core.settings import Settings
from streams.demo.simulator import default_petitions
from streams.testing.processes import IntakeProcess, prepare
from tests.intake_client import post_json, submitted

GOOD = {"full_name": "Layla Haddad", "email": "layla@example.org", "country": "sy"}


@pytest.fixture
def running(settings: Settings, intake: IntakeProcess) -> IntakeProcess:
    prepare(settings, default_petitions(datetime.now(UTC)))
    intake.start(wait_for_petition="syria-icc")
    return intake


def test_the_addresses_of_one_ipv6_64_are_limited_as_one_client(
    settings: Settings, running: IntakeProcess
) -> None:
    # The default limit is 1/60: one signature per client and petition a minute.
    one_network = ["2001:db8:7:1::1", "2001:db8:7:1::2", "2001:db8:7:1:ab:cd:ef:12"]
    answers = [
        post_json(running.url, "syria-icc", {**GOOD, "email": f"s{n}@example.org"}, ip=ip)
        for n, ip in enumerate(one_network)
    ]
    assert [a.status for a in answers] == [202, 429, 429]
    next_network = post_json(
        running.url, "syria-icc", {**GOOD, "email": "t@example.org"}, ip="2001:db8:7:2::1"
    )
    assert next_network.status == 202
    records = submitted(settings, expect=2)
    assert sorted(r["client_ip"] for r in records) == ["2001:db8:7:1::1", "2001:db8:7:2::1"]


async def resend(url: str, fields: dict[str, str], times: int, concurrency: int) -> Counter[str]:
    """POST the same JSON ``times`` times over ``concurrency`` keep-alive connections;
    how often each (status, signature_id) came back."""
    body = json.dumps(fields)
    headers = {"Content-Type": "application/json", "X-Forwarded-For": "203.0.113.77"}
    answers: Counter[str] = Counter()
    pending = iter(range(times))

    async def client(session: aiohttp.ClientSession) -> None:
        for _ in pending:
            async with session.post(url, data=body, headers=headers) as response:
                answer = await response.json()
                answers[f"{response.status} {answer.get('signature_id')}"] += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    return answers


@pytest.mark.slow
def test_ten_thousand_identical_resends_are_all_answered_and_published_once(
    settings: Settings, running: IntakeProcess
) -> None:
    fields = {**GOOD, "signature_id": "flood-0001"}
    url = f"{running.url}/petitions/syria-icc/signatures"
    answers = asyncio.run(resend(url, fields, times=10_000, concurrency=20))
    assert answers == Counter({"202 flood-0001": 10_000})
    records = submitted(settings, expect=1)
    assert [r["signature_id"] for r in records] == ["flood-0001"]
