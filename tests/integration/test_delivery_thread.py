"""The publisher's delivery thread (it serves librdkafka's delivery reports) is
supervised: once it dies, nothing waits for a report nobody will serve.

The thread is killed the way a bug would kill it: a librdkafka callback that raises
inside ``poll`` (``stats_cb``, a public producer setting, armed by the test). The
intake runs in this process (its real routes and publisher) against the real broker.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.catalogue.follower import PetitionLookup
from streams.core.errors import KafkaBusy, PublishFailed
from streams.core.settings import Settings
from streams.demo.simulator import default_petitions
from streams.intake.server import build
from streams.intake.service import Intake
from streams.publish import AsyncPublisher, Signature
from streams.testing.processes import prepare

#: How long an answer may take once the thread is dead (today's answers: at once);
#: without supervision the request would hang until the client gave up.
ANSWER_BOUND_SECONDS = 5.0


class Fuse:
    """A ``stats_cb`` that raises once, inside the delivery thread's poll, once lit."""

    def __init__(self) -> None:
        self.lit = threading.Event()

    def __call__(self, _stats: str) -> None:
        if self.lit.is_set():
            self.lit.clear()  # once: a later flush (close) must not trip on it too
            raise RuntimeError("a delivery callback failed")

    def config(self) -> dict[str, Any]:
        return {"stats_cb": self, "statistics.interval.ms": 50}


def signature(n: int) -> Signature:
    return Signature(
        petition_id="syria-icc",
        full_name=f"Signer {n}",
        email=f"signer{n}@example.org",
        country="FR",
        source="api",
    )


async def until(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


@asynccontextmanager
async def intake_serving(settings: Settings, fuse: Fuse) -> AsyncIterator[TestClient[Any, Any]]:
    petitions = PetitionLookup(settings)
    await asyncio.to_thread(petitions.start)
    publisher = AsyncPublisher(settings, producer_config=fuse.config())
    try:
        async with TestClient(TestServer(build(Intake(settings, petitions, publisher)))) as http:
            yield http
    finally:
        await publisher.close(timeout=5)
        await asyncio.to_thread(petitions.stop)


@pytest.fixture
def intake_settings(settings: Settings) -> Settings:
    prepare(settings, default_petitions(datetime.now(UTC)))
    return settings.model_copy(update={"intake_rate_limits": ""})  # one client, many signers


def test_a_dead_delivery_thread_fails_the_intakes_healthz(intake_settings: Settings) -> None:
    fuse = Fuse()

    async def health_before_and_after() -> tuple[int, int, dict[str, Any]]:
        async with intake_serving(intake_settings, fuse) as http:
            before = (await http.get("/healthz")).status
            fuse.lit.set()

            async def unhealthy() -> bool:
                return (await http.get("/healthz")).status == 503

            await until(unhealthy)
            after = await http.get("/healthz")
            return before, after.status, await after.json()

    before, after, body = asyncio.run(health_before_and_after())
    assert (before, after) == (200, 503)
    assert (body["delivery_thread"], body["kafka"]) == ("dead", "up")


def test_signatures_are_refused_with_503_once_the_delivery_thread_is_dead(
    intake_settings: Settings,
) -> None:
    fuse = Fuse()

    async def sign(http: TestClient[Any, Any], n: int) -> tuple[int, float, Any]:
        started = time.monotonic()
        fields = {"full_name": f"Signer {n}", "email": f"s{n}@example.org", "country": "FR"}
        answer = await http.post("/petitions/syria-icc/signatures", json=fields)
        return answer.status, time.monotonic() - started, answer.headers.get("Retry-After")

    async def before_and_after() -> tuple[Any, Any]:
        async with intake_serving(intake_settings, fuse) as http:
            taken = await sign(http, 1)
            fuse.lit.set()

            async def dead() -> bool:
                return (await http.get("/healthz")).status == 503

            await until(dead)
            return taken, await sign(http, 2)

    (taken, _, _), (refused, took, retry_after) = asyncio.run(before_and_after())
    assert taken == 202
    assert refused == 503 and retry_after
    assert took < ANSWER_BOUND_SECONDS


def outcome_when_the_thread_dies(
    settings: Settings, send: Callable[[AsyncPublisher], Awaitable[object]]
) -> tuple[BaseException | None, float]:
    """What ``send`` raises when the delivery thread dies while Kafka's report of its
    record is pending, and how long after the death it took."""
    fuse = Fuse()

    async def outcome() -> tuple[BaseException | None, float]:
        publisher = AsyncPublisher(settings, delivery_timeout=300, producer_config=fuse.config())
        try:
            pending = asyncio.ensure_future(send(publisher))
            await asyncio.sleep(0.5)
            assert not pending.done()  # handed over, waiting for a report
            started = time.monotonic()
            fuse.lit.set()
            await asyncio.wait({pending}, timeout=4 * ANSWER_BOUND_SECONDS)
            return (pending.exception() if pending.done() else None), time.monotonic() - started
        finally:
            await publisher.close(timeout=1)

    return asyncio.run(outcome())


def test_a_signature_handed_to_kafka_is_answered_in_doubt_when_the_thread_dies(
    settings: Settings,
) -> None:
    """Kafka cannot deliver it yet (its topic is not created, and the broker creates
    none by itself), so its report is pending when the thread dies: the caller hears
    "Kafka may hold it", not nothing. (With no broker at all, the publisher would
    refuse the event before handing it over, as soon as librdkafka says so.)"""
    failure, took = outcome_when_the_thread_dies(settings, lambda p: p.publish(signature(1)))
    assert isinstance(failure, PublishFailed) and failure.possibly_persisted
    assert took < ANSWER_BOUND_SECONDS


def test_a_signature_waiting_to_be_coalesced_is_refused_when_the_thread_dies(
    settings: Settings,
) -> None:
    fuse = Fuse()

    async def outcome() -> tuple[BaseException | None, float]:
        publisher = AsyncPublisher(
            settings, coalesce_seconds=60, coalesce_max=100, producer_config=fuse.config()
        )
        try:
            pending = asyncio.ensure_future(publisher.publish(signature(1)))
            await asyncio.sleep(0.2)
            started = time.monotonic()
            fuse.lit.set()
            await asyncio.wait({pending}, timeout=4 * ANSWER_BOUND_SECONDS)
            return (pending.exception() if pending.done() else None), time.monotonic() - started
        finally:
            await publisher.close(timeout=1)

    failure, took = asyncio.run(outcome())
    assert isinstance(failure, KafkaBusy)  # never handed to Kafka: 503, not in doubt
    assert took < ANSWER_BOUND_SECONDS


def test_a_record_of_our_own_handed_to_kafka_is_answered_in_doubt_when_the_thread_dies(
    settings: Settings,
) -> None:
    """``send_record`` (the intake's confirmations) is supervised like ``publish``."""
    topic = settings.topic("signatures.confirmations")  # not created: no report yet
    failure, took = outcome_when_the_thread_dies(
        settings, lambda p: p.send_record(topic, b"k", b"v", 0)
    )
    assert isinstance(failure, PublishFailed) and failure.possibly_persisted
    assert took < ANSWER_BOUND_SECONDS
