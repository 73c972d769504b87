"""``countersign serve``: the ClickHouse sink and the HTTP API + dashboard, one process.

It is the only process that opens ClickHouse: the sink writes the pipeline's output
topics into it and the API reads the counts back. It runs beside the Faust worker,
not inside it, so the worker's event loop spends no time on inserts and queries
(docs/benchmarks.md: 17 % more signatures/s once the sink left the worker).
No Faust here: a plain aiohttp server, a confluent-kafka consumer and a thread.

It listens as the intake does (``streams.core.capped_site``): at most
``serve_max_connections`` served at once (503 past it) and an idle connection closed
after ``serve_keepalive_timeout_seconds``, so idle or slow clients cannot hold the
file descriptors the live streams, the API and /healthz need.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from sinks.clickhouse.audit import AuditQueries
from sinks.clickhouse.client import connect
from sinks.clickhouse.migrate import migrate
from sinks.clickhouse.queries import CountsReader
from sinks.clickhouse.rebuild import Rebuild
from sinks.clickhouse.service import SinkService
from streams.catalogue.follower import PetitionLookup
from streams.core.capped_site import CappedSite
from streams.core.metrics import REGISTRY, SinkCollector
from streams.core.redact import redact_dsn
from streams.core.settings import Settings
from streams.core.signals import until_terminated
from streams.core.topics import create_topics
from streams.signerkeys.erasure import Eraser
from streams.signerkeys.retention import RetentionJob, RetentionSchedule
from streams.signerkeys.store import SignerKeys
from streams.signerkeys.writer import KeyWriter, Ticker
from streams.web import ops_privacy
from streams.web import server as web_server
from streams.web.metrics import CONNECTIONS_REFUSED

log = logging.getLogger(__name__)


async def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT: migrate ClickHouse, start the sink and the API."""
    await asyncio.to_thread(create_topics, settings)
    client = await asyncio.to_thread(connect, settings.clickhouse_target)
    applied = await asyncio.to_thread(migrate, client, settings.clickhouse_database)
    log.info(
        "ClickHouse %s ready (%d migrations applied now)",
        redact_dsn(settings.clickhouse_target),
        len(applied),
    )
    petitions = PetitionLookup(settings)
    await asyncio.to_thread(petitions.start)
    sink = None
    if settings.sink_enabled:
        # Its own client: the sink's thread and the API's threads never share a session.
        sink = SinkService(settings, await asyncio.to_thread(connect, settings.clickhouse_target))
        # A first reading of its lag before we listen: /healthz and /metrics show one
        # from their first answer; the sampler then keeps it fresh in the background.
        await asyncio.to_thread(sink.lag.sample_now)
        sink.start()
        REGISTRY.register(SinkCollector(sink))
    # Appends to keys.signers every half erasure window: an erased key then leaves
    # the brokers' disks within the bound docs/privacy.md states, quiet topic or not.
    key_writer = await asyncio.to_thread(KeyWriter, settings)
    ticker = Ticker(key_writer)
    ticker.start()
    signer_keys = SignerKeys(settings)
    await asyncio.to_thread(signer_keys.start)
    eraser = Eraser(settings, signer_keys, key_writer)
    retention = RetentionJob(petitions.all, eraser)
    schedule = RetentionSchedule(retention, settings.retention_check_seconds)
    schedule.start()
    reader = CountsReader(client, settings.clickhouse_database)
    rebuild = None
    if sink is not None:
        rebuild_client = await asyncio.to_thread(connect, settings.clickhouse_target)
        rebuild = Rebuild(settings, rebuild_client, sink.sink)
    api = web_server.Api(
        settings,
        reader,
        petitions,
        sink,
        AuditQueries(client, settings.clickhouse_database),
        rebuild,
        ops_privacy.Privacy(eraser, retention),
    )
    runner = web.AppRunner(
        web_server.build(api), keepalive_timeout=settings.serve_keepalive_timeout_seconds
    )
    await runner.setup()
    site = CappedSite(
        runner,
        settings.bind_host,
        settings.api_port,
        max_connections=settings.serve_max_connections,
        on_refused=CONNECTIONS_REFUSED.inc,
    )
    await site.start()
    log.info("dashboard and API on http://%s:%d/", settings.bind_host, settings.api_port)
    await until_terminated()
    log.info("stopping: the API, then the sink (its last batch is written first)")
    await runner.cleanup()
    if sink is not None:
        await asyncio.to_thread(sink.stop)
    await asyncio.to_thread(schedule.stop)
    await asyncio.to_thread(ticker.stop)
    await asyncio.to_thread(key_writer.close)
    await asyncio.to_thread(signer_keys.stop)
    await asyncio.to_thread(petitions.stop)
