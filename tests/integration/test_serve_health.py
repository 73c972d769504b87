"""``countersign serve``'s /metrics and /healthz, composed as serve composes them (the
real routes, the sink service, chDB), served in this process so that the test can
watch the event loop while it scrapes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from sinks.clickhouse.audit import AuditQueries
from sinks.clickhouse.client import connect
from sinks.clickhouse.migrate import migrate
from sinks.clickhouse.queries import CountsReader
from sinks.clickhouse.service import SinkService
from streams.catalogue.follower import PetitionLookup
from streams.core.metrics import REGISTRY, SinkCollector
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.core.topicspecs import ACCEPTED
from streams.testing.processes import free_port, ops_headers
from streams.web.server import Api, build
from tests.integration.test_clickhouse_sink import accepted, publish

#: What a scrape took before the lag was sampled: librdkafka's 5 s metadata timeout.
#: The bounds below are generous against it, so a slow machine does not fail them.
STALL_BOUND_SECONDS = 1.0


@dataclass
class Serve:
    client: TestClient[Any, Any]
    service: SinkService


@asynccontextmanager
async def serving(
    settings: Settings,
    *,
    run_sink: bool = True,
    before_start: Callable[[SinkService], None] | None = None,
) -> AsyncIterator[Serve]:
    """serve's API over a sink service (running, or only its lag sampler)."""
    database = settings.clickhouse_database
    client = await asyncio.to_thread(connect, settings.clickhouse_target)
    await asyncio.to_thread(migrate, client, database)
    service = SinkService(settings, await asyncio.to_thread(connect, settings.clickhouse_target))
    api = Api(
        settings,
        CountsReader(client, database),
        PetitionLookup(settings),
        service,
        AuditQueries(client, database),
        None,
    )
    collector = SinkCollector(service)
    REGISTRY.register(collector)
    if before_start is not None:
        before_start(service)
    if run_sink:
        service.start()
    else:
        service.lag.start()
    try:
        async with TestClient(TestServer(build(api))) as http:
            yield Serve(http, service)
    finally:
        REGISTRY.unregister(collector)
        await asyncio.to_thread(service.stop)


async def longest_stall(during: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """The longest the event loop went without running a 10 ms ticker while ``during``
    ran on it, and what ``during`` returned."""
    loop = asyncio.get_running_loop()
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0.01)
            gaps.append(loop.time() - last)
            last = loop.time()

    ticker = asyncio.create_task(tick())
    try:
        result = await during()
    finally:
        done.set()
        await ticker
    return max(gaps, default=0.0), result


async def metrics_text(http: TestClient[Any, Any]) -> str:
    response = await http.get("/metrics", headers=ops_headers(Settings()))
    assert response.status == 200
    return await response.text()


def gauge(text: str, name: str) -> float | None:
    for family in text_string_to_metric_families(text):
        if family.name == name:
            return float(family.samples[0].value)
    return None


def test_metrics_answer_at_once_and_never_stall_the_loop_while_kafka_is_unreachable(
    sink_settings: Settings,
) -> None:
    nowhere = sink_settings.model_copy(
        update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"}
    )

    async def scrape_three_times() -> tuple[list[float], str]:
        async with serving(nowhere) as serve:
            await asyncio.sleep(0.3)  # the sampler's first reading is now waiting on Kafka
            took, text = [], ""
            for _ in range(3):
                started = time.monotonic()
                text = await metrics_text(serve.client)
                took.append(time.monotonic() - started)
            return took, text

    stall, (took, text) = asyncio.run(longest_stall(scrape_three_times))
    assert max(took) < STALL_BOUND_SECONDS, took
    assert stall < STALL_BOUND_SECONDS, stall
    assert gauge(text, "countersign_sink_rows") == 0  # the sink's own numbers are there
    assert gauge(text, "countersign_sink_consumer_lag") is None  # never read: not shown


def test_metrics_show_the_lag_read_in_the_background(sink_settings: Settings) -> None:
    settings = sink_settings.model_copy(update={"lag_sample_seconds": 0.2})
    create_topics(settings)
    waiting = 7
    publish(
        settings,
        ACCEPTED.name,
        [accepted(n, offset=n) for n in range(waiting)],
        "SignatureAccepted",
    )

    async def lag_shown() -> float | None:
        async with serving(settings, run_sink=False) as serve:
            deadline = time.monotonic() + 30
            lag = None
            while lag != waiting and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                lag = gauge(await metrics_text(serve.client), "countersign_sink_consumer_lag")
            return lag

    assert asyncio.run(lag_shown()) == waiting


def test_healthz_reports_the_lag_read_in_the_background(sink_settings: Settings) -> None:
    settings = sink_settings.model_copy(update={"lag_sample_seconds": 0.2})
    create_topics(settings)
    waiting = 4
    publish(
        settings,
        ACCEPTED.name,
        [accepted(n, offset=n) for n in range(waiting)],
        "SignatureAccepted",
    )

    async def sink_health() -> dict[str, Any]:
        async with serving(settings, run_sink=False) as serve:
            deadline = time.monotonic() + 30
            entry: dict[str, Any] = {}
            while entry.get("lag") != waiting and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                entry = (await (await serve.client.get("/healthz")).json())["checks"]["sink"]
            return entry

    entry = asyncio.run(sink_health())
    assert entry["lag"] == waiting
    assert 0 <= entry["lag_age_seconds"] < 30


def test_a_dead_sink_thread_fails_healthz_and_shows_in_metrics(sink_settings: Settings) -> None:
    def break_it(service: SinkService) -> None:
        service.sink.consumer.close()  # its first consume raises: the loop dies at once

    async def health_and_metrics() -> tuple[int, dict[str, Any], str]:
        async with serving(sink_settings, before_start=break_it) as serve:
            deadline = time.monotonic() + 30
            while serve.service.alive and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            answer = await serve.client.get("/healthz")
            body = await answer.json()
            return answer.status, body["checks"]["sink"], await metrics_text(serve.client)

    status, entry, text = asyncio.run(health_and_metrics())
    assert status == 503
    assert (entry["ok"], entry["alive"]) == (False, False)
    assert "closed" in entry["error"].lower()
    assert gauge(text, "countersign_sink_alive") == 0


def test_a_running_sink_is_alive_in_healthz_and_metrics(sink_settings: Settings) -> None:
    create_topics(sink_settings)

    async def health_and_metrics() -> tuple[int, dict[str, Any], str]:
        async with serving(sink_settings) as serve:
            answer = await serve.client.get("/healthz")
            body = await answer.json()
            return answer.status, body["checks"]["sink"], await metrics_text(serve.client)

    status, entry, text = asyncio.run(health_and_metrics())
    assert status == 200
    assert (entry["ok"], entry["alive"], entry["stalled"]) == (True, True, False)
    assert gauge(text, "countersign_sink_alive") == 1
