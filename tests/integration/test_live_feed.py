"""The dashboard's live feed in a real ``countersign serve`` (its own chDB, the real
broker): what a viewer gets on connect, one poller shared by every viewer of a
petition, and the cap on viewers."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from streams.core.settings import Settings
from streams.demo.simulator import default_petitions
from streams.testing.processes import ServeProcess, free_port, ops_headers, prepare
from streams.testing.sse import events_url, read_events
from streams.web.live import SSE_INTERVAL_SECONDS
from tests.intake_client import request

PETITION = "syria-icc"
CAP = 3

Serve = Callable[[dict[str, str]], str]


@pytest.fixture
def start_serve(settings: Settings, tmp_path: Path) -> Iterator[Serve]:
    """Starts a serve (with more COUNTERSIGN_* variables) that knows the demo petitions;
    gives its base URL."""
    prepare(settings, default_petitions(datetime.now(UTC)))
    with contextlib.ExitStack() as stack:

        def start(env: dict[str, str]) -> str:
            process = stack.enter_context(
                ServeProcess(settings, tmp_path / "serve.log", free_port())
            )
            return process.start_serving(env)

        yield start


def metric(base: str, settings: Settings, name: str) -> float:
    text = request(f"{base}/metrics", method="GET", headers=ops_headers(settings)).body
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


@contextlib.asynccontextmanager
async def viewers(
    base: str, n: int
) -> AsyncIterator[tuple[aiohttp.ClientSession, list[aiohttp.ClientResponse]]]:
    """``n`` open event streams of PETITION, each past its first event (so serve has
    counted it as a viewer)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        streams = []
        try:
            for _ in range(n):
                response = await session.get(events_url(base, PETITION))
                assert response.status == 200
                streams.append(response)
            for response in streams:
                await asyncio.wait_for(anext(read_events(response)), 60)
            yield session, streams
        finally:
            for response in streams:
                response.close()


def test_a_viewer_gets_the_counts_and_the_timeline_as_soon_as_it_connects(
    start_serve: Serve,
) -> None:
    base = start_serve({})

    async def first_two() -> list[tuple[str, Any]]:
        async with aiohttp.ClientSession() as session:
            response = await session.get(events_url(base, PETITION))
            assert response.headers["Content-Type"] == "text/event-stream"
            events = []
            async for event in read_events(response):
                events.append(event)
                if len(events) == 2:
                    return events
        raise AssertionError("the stream ended")

    events = dict(asyncio.run(asyncio.wait_for(first_two(), 60)))
    counts = request(f"{base}/api/petitions/{PETITION}/counts", method="GET").body
    assert {k: v for k, v in events["counts"].items() if k != "as_of"} == {
        k: v for k, v in counts.items() if k != "as_of"
    }
    timeline = f"{base}/api/petitions/{PETITION}/timeline?minutes=180&bucket=minute"
    assert events["timeline"] == request(timeline, method="GET").body


def test_fifty_viewers_of_a_petition_share_one_poller_of_its_counts(
    start_serve: Serve, settings: Settings
) -> None:
    # Every viewer is this machine: one client, which sse_max_per_client would stop at 20.
    base = start_serve({"COUNTERSIGN_SSE_MAX_PER_CLIENT": "50"})

    async def watch() -> tuple[float, float, float]:
        async with viewers(base, 50):
            before = metric(base, settings, "countersign_sse_count_polls_total")
            started = time.monotonic()
            await asyncio.sleep(5)
            polls = metric(base, settings, "countersign_sse_count_polls_total") - before
            seconds = time.monotonic() - started
            return metric(base, settings, "countersign_sse_viewers"), polls, seconds

    watching, polls, seconds = asyncio.run(watch())
    assert watching == 50
    # One poll per interval whatever the viewers (a slow machine polls less, never
    # more); a poller per viewer would make 50 per interval.
    assert 1 <= polls <= seconds / SSE_INTERVAL_SECONDS + 2


def test_a_viewer_past_the_cap_is_told_503_and_when_to_come_back(
    start_serve: Serve, settings: Settings
) -> None:
    base = start_serve({"COUNTERSIGN_SSE_MAX_CONNECTIONS": str(CAP)})

    async def one_too_many() -> tuple[int, str | None, Any]:
        async with (
            viewers(base, CAP) as (session, _),
            session.get(events_url(base, PETITION)) as refused,
        ):
            return refused.status, refused.headers.get("Retry-After"), await refused.json()

    status, retry_after, body = asyncio.run(one_too_many())
    assert status == 503
    assert retry_after is not None and int(retry_after) >= 1
    assert body["error"].startswith(
        f"this server already streams live counts to {CAP} viewers, its limit (sse_max_connections)"
    )
    assert metric(base, settings, "countersign_sse_refused_total") == 1


def test_a_viewer_who_leaves_frees_a_place_under_the_cap(start_serve: Serve) -> None:
    base = start_serve({"COUNTERSIGN_SSE_MAX_CONNECTIONS": str(CAP)})

    async def leave_then_join() -> int:
        async with viewers(base, CAP) as (session, streams):
            async with session.get(events_url(base, PETITION)) as refused:
                assert refused.status == 503
            streams.pop().close()
            deadline = time.monotonic() + 30  # serve notices a gone viewer within 1 s
            while True:
                async with session.get(events_url(base, PETITION)) as answer:
                    if answer.status == 200 or time.monotonic() > deadline:
                        return answer.status
                await asyncio.sleep(0.2)

    assert asyncio.run(leave_then_join()) == 200
