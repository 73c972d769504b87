"""Ops see and undo an attack: 5,000 signatures from one domain and one network land
among 1,000 real ones; ``sources`` shows where they came from, ``invalidate`` takes
exactly them out of the count, ``reinstate`` puts them back, and ``reconcile`` agrees
with every number each time. Real broker, worker, serve and ClickHouse."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.codec import codec
from streams.catalogue.store import new_petition, publish_petition
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.rules.keys import submission_key_for
from streams.testing.dataset import Event
from streams.testing.processes import WorkerProcess, produce
from tests.intake_client import request

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PETITION = "attacked"
BOTS, PEOPLE = 5_000, 1_000
COUNTRIES = ["SY", "FR", "BR", "IN", "NG"]


def signature(n: int, email: str, country: str, ip: str) -> Event:
    record = {
        "signature_id": str(uuid.uuid4()),
        "petition_id": PETITION,
        "full_name": f"Signer {n}",
        "email": email,
        "country": country,
        "postal_code": None,
        "consent_to_publish_name": False,
        "submitted_at": datetime.now(UTC),
        "source": "web-form",
        "client_ip": ip,
        "user_agent": "bot/1.0" if "bots" in email else "Mozilla/5.0",
        "locale": None,
        "referrer": None,
    }
    key = submission_key_for(PETITION, email)
    return Event(key, codec("SignatureSubmitted").encode(record), "accepted")


def counts(worker: WorkerProcess) -> dict[str, Any]:
    answer = request(
        f"http://127.0.0.1:{worker.web_port}/api/petitions/{PETITION}/counts", method="GET"
    )
    return dict(answer.body) if answer.status == 200 else {}


def wait_for_total(worker: WorkerProcess, total: int) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    shown: dict[str, Any] = {}
    while time.monotonic() < deadline:
        assert worker.alive(), worker.log_tail()
        shown = counts(worker)
        if shown.get("total") == total:
            time.sleep(3)  # anything moving further would show now
            return counts(worker)
        time.sleep(1)
    raise AssertionError(f"the total did not reach {total}: {shown}")


@pytest.mark.timeout(600)
def test_invalidate_then_reinstate_an_attack_moves_the_counts_by_exactly_it(
    settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    create_topics(settings)
    now = datetime.now(UTC)
    publish_petition(
        settings,
        new_petition(
            PETITION, "Attacked", opens_at=now - timedelta(days=1), confirmation="none", now=now
        ),
    )
    people = [
        signature(n, f"person{n}@mail{n % 7}.example", COUNTRIES[n % 5], f"198.51.{n % 200}.9")
        for n in range(PEOPLE)
    ]
    bots = [signature(n, f"bot{n}@bots.example", "US", f"203.0.113.{n % 250}") for n in range(BOTS)]
    produce(settings, people + bots)
    worker.start()
    worker.wait_until_serving()
    before = wait_for_total(worker, PEOPLE + BOTS)
    people_by_country = dict(Counter(COUNTRIES[n % 5] for n in range(PEOPLE)))

    found = json.loads(
        worker.run(
            ["sources", "--petition", PETITION, "--format", "json"], tmp_path / "sources.log"
        ).stdout
    )
    assert found["domain"][0] == {"source": "bots.example", "recent": BOTS, "before": 0}
    assert found["network"][0]["source"] == "203.0.113.0/24"

    done = worker.run(
        ["invalidate", "--petition", PETITION, "--domain", "bots.example",
         "--reason", "bot wave", "--actor", "test-ops"],
        tmp_path / "invalidate.log",
    )  # fmt: skip
    batch = re.search(r"mod-[0-9T]+-[0-9a-f]+", done.stdout)
    assert batch is not None, done.stdout
    after = wait_for_total(worker, PEOPLE)
    assert after["by_country"] == people_by_country
    worker.run(["reconcile", "--settle", "60"], tmp_path / "reconcile-1.log")

    trail = json.loads(
        worker.run(
            ["moderations", "--petition", PETITION, "--format", "json"], tmp_path / "trail.log"
        ).stdout
    )
    assert [(r["action"], r["signatures"], r["actor"], r["reason"]) for r in trail] == [
        ("invalidate", BOTS, "test-ops", "bot wave")
    ]

    worker.run(
        ["invalidate", "--petition", PETITION, "--domain", "bots.example", "--reason", "again"],
        tmp_path / "again.log",
    )  # nothing left to take out: says so, changes nothing
    assert wait_for_total(worker, PEOPLE)["total"] == PEOPLE

    worker.run(
        ["reinstate", "--batch", batch.group(0), "--reason", "false alarm"],
        tmp_path / "reinstate.log",
    )
    restored = wait_for_total(worker, PEOPLE + BOTS)
    assert restored["by_country"] == before["by_country"]
    worker.run(["reconcile", "--settle", "60"], tmp_path / "reconcile-2.log")
