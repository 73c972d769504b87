"""``countersign serve``, ``sink`` and ``api``: the ClickHouse sink and the HTTP API +
dashboard, in one process (``serve``, the embedded default) or as separate roles.

- The **sink** writes the pipeline's output topics into ClickHouse, applies the
  migrations, and runs the jobs that must run once per pipeline (the keys' ticker,
  the retention schedule, and with the public log on, its writer). One per
  ClickHouse database: its consumer group divides the partitions, but two would race
  the migrations.
- The **API** only reads ClickHouse (a read-only user is enough: docs/scaling.md) and
  takes any number of replicas, each serving the dashboard, the API, the live feeds and
  /ops. An embedded chdb:// directory opens in one process only, so a replica needs a
  ClickHouse server (``http(s)://``); with chDB, ``serve`` runs both roles.

Both run beside the Faust worker, not inside it, so the worker's event loop spends no
time on inserts and queries (docs/benchmarks.md: 17 % more signatures/s once the sink
left the worker). No Faust here: plain aiohttp, confluent-kafka consumers and threads.

It listens as the intake does (``streams.core.capped_site``): at most
``serve_max_connections`` served at once (503 past it) and an idle connection closed
after ``serve_keepalive_timeout_seconds``, so idle or slow clients cannot hold the
file descriptors the live streams, the API and /healthz need.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

from aiohttp import web
from clickhouse_connect.driver.client import Client

from sinks.clickhouse.audit import AuditQueries
from sinks.clickhouse.client import connect_with
from sinks.clickhouse.log_queries import LogReader
from sinks.clickhouse.migrate import migrate, pending
from sinks.clickhouse.queries import CountsReader
from sinks.clickhouse.rebuild import Rebuild
from sinks.clickhouse.service import SinkService
from sinks.transparency.writer import LogWriter
from streams.catalogue.follower import PetitionLookup
from streams.core.capped_site import CappedSite
from streams.core.errors import ConfigurationError
from streams.core.metrics import REGISTRY, SinkCollector
from streams.core.redact import redact_dsn
from streams.core.settings import Settings
from streams.core.signals import until_terminated
from streams.core.topics import create_topics
from streams.rules.signed_note import NoteError, Signer, Verifier
from streams.signerkeys.erasure import Eraser
from streams.signerkeys.retention import RetentionJob, RetentionSchedule
from streams.signerkeys.store import SignerKeys
from streams.signerkeys.writer import KeyWriter, Ticker
from streams.web import log_routes, ops_privacy
from streams.web import server as web_server
from streams.web.metrics import CONNECTIONS_REFUSED

log = logging.getLogger(__name__)

#: How often an API replica that found the schema behind looks again.
SCHEMA_POLL_SECONDS = 2.0


async def serve(settings: Settings, *, sink: bool = True, api: bool = True) -> None:
    """Run until SIGTERM/SIGINT: the sink and the API, or one of them (the sink alone
    serves its /healthz and /metrics on ``sink_port``)."""
    if api and not sink and settings.clickhouse_target.startswith("chdb://"):
        raise ConfigurationError(
            "an API without the sink reads a ClickHouse server, but "
            f"COUNTERSIGN_CLICKHOUSE_DSN is the embedded {redact_dsn(settings.clickhouse_target)}"
            ", which one process opens at a time: run `countersign serve` (both roles), or "
            "point COUNTERSIGN_CLICKHOUSE_DSN at a server (http(s)://)"
        )
    async with AsyncExitStack() as stack:
        client = await asyncio.to_thread(connect_with, settings)
        if sink:
            await asyncio.to_thread(create_topics, settings)
            applied = await asyncio.to_thread(
                migrate, client, settings.clickhouse_database, settings.clickhouse_cluster
            )
            log.info(
                "ClickHouse %s ready (%d migrations applied now)",
                redact_dsn(settings.clickhouse_target),
                len(applied),
            )
        else:
            await wait_for_schema(client, settings)
        petitions = PetitionLookup(settings)
        await asyncio.to_thread(petitions.start)
        stack.push_async_callback(asyncio.to_thread, petitions.stop)
        sink_service = await start_sink(settings, stack) if sink else None
        if sink and settings.transparency_log:
            await start_log_writer(settings, stack)
        eraser, retention = await start_privacy(settings, stack, petitions, with_jobs=sink)
        rebuild = None
        if sink_service is not None and not settings.clickhouse_cluster:
            # Its shadow tables are made and swapped in one server's form only.
            rebuild_client = await asyncio.to_thread(connect_with, settings)
            rebuild = Rebuild(settings, rebuild_client, sink_service.sink)
        routes = web_server.Api(
            settings,
            CountsReader(client, settings.clickhouse_database),
            petitions,
            sink_service,
            AuditQueries(client, settings.clickhouse_database),
            rebuild,
            ops_privacy.Privacy(eraser, retention),
            public_logs(settings, client, petitions),
        )
        app = web_server.build(routes) if api else web_server.build_health(routes)
        port = settings.api_port if api else settings.sink_port
        runner = web.AppRunner(app, keepalive_timeout=settings.serve_keepalive_timeout_seconds)
        await runner.setup()
        site = CappedSite(
            runner,
            settings.bind_host,
            port,
            max_connections=settings.serve_max_connections,
            on_refused=CONNECTIONS_REFUSED.inc,
        )
        await site.start()
        what = "dashboard and API" if api else "the sink's /healthz and /metrics"
        log.info("%s on http://%s:%d/", what, settings.bind_host, port)
        await until_terminated()
        log.info("stopping: the web server, then the sink (its last batch is written first)")
        await runner.cleanup()


def public_logs(settings: Settings, client: Client, petitions: PetitionLookup) -> log_routes.Logs:
    """What the /log routes read, and the key that checks the heads."""
    reader = LogReader(client, settings.clickhouse_database)
    return log_routes.Logs(
        reader, log_routes.LeafHashes(reader), petitions, published_verifier(settings)
    )


def published_verifier(settings: Settings) -> Verifier:
    """The key ``/api/keys`` publishes: the one set for it, else the signer key's."""
    if settings.transparency_verifier_key:
        try:
            return Verifier.parse(settings.transparency_verifier_key)
        except NoteError as exc:
            raise ConfigurationError(f"COUNTERSIGN_TRANSPARENCY_VERIFIER_KEY: {exc}") from None
    return Signer.parse(settings.transparency_signer_key.get_secret_value()).verifier


async def wait_for_schema(client: Client, settings: Settings) -> None:
    """An API replica reads tables the sink creates: wait until it has (said once)."""
    waiting = False
    while missing := await asyncio.to_thread(pending, client, settings.clickhouse_database):
        if not waiting:
            log.warning(
                "ClickHouse %s lacks migrations %s: waiting for `countersign sink` (or "
                "`countersign migrate`) to apply them",
                redact_dsn(settings.clickhouse_target),
                ", ".join(f"{m.version:04d}_{m.name}" for m in missing),
            )
            waiting = True
        await asyncio.sleep(SCHEMA_POLL_SECONDS)
    log.info("ClickHouse %s has every migration", redact_dsn(settings.clickhouse_target))


async def start_sink(settings: Settings, stack: AsyncExitStack) -> SinkService:
    # Its own client: the sink's thread and the API's threads never share a session.
    service = SinkService(settings, await asyncio.to_thread(connect_with, settings))
    # A first reading of its lag before we listen: /healthz and /metrics show one
    # from their first answer; the sampler then keeps it fresh in the background.
    await asyncio.to_thread(service.lag.sample_now)
    service.start()
    stack.push_async_callback(asyncio.to_thread, service.stop)
    REGISTRY.register(SinkCollector(service))
    return service


async def start_log_writer(settings: Settings, stack: AsyncExitStack) -> LogWriter:
    """The petitions' public logs: their single writer, one per pipeline, beside the
    sink (docs/transparency.md)."""
    writer = LogWriter(settings)
    writer.start()
    stack.push_async_callback(asyncio.to_thread, writer.stop)
    log.info("the public logs' writer runs (heads signed as %s)", writer.signer.name)
    return writer


async def start_privacy(
    settings: Settings, stack: AsyncExitStack, petitions: PetitionLookup, *, with_jobs: bool
) -> tuple[Eraser, RetentionJob]:
    """The erasure and retention that /ops offers on demand; with ``with_jobs`` (the
    sink's process: once per pipeline) also the keys' ticker, which appends to
    keys.signers every half erasure window so that an erased key leaves the brokers'
    disks within the bound docs/privacy.md states, and the retention schedule."""
    key_writer = await asyncio.to_thread(KeyWriter, settings)
    stack.push_async_callback(asyncio.to_thread, key_writer.close)
    signer_keys = SignerKeys(settings)
    await asyncio.to_thread(signer_keys.start)
    stack.push_async_callback(asyncio.to_thread, signer_keys.stop)
    eraser = Eraser(settings, signer_keys, key_writer)
    retention = RetentionJob(petitions.all, eraser)
    if with_jobs:
        ticker = Ticker(key_writer)
        ticker.start()
        stack.push_async_callback(asyncio.to_thread, ticker.stop)
        schedule = RetentionSchedule(retention, settings.retention_check_seconds)
        schedule.start()
        stack.push_async_callback(asyncio.to_thread, schedule.stop)
    return eraser, retention
