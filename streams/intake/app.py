"""``countersign intake``'s life: start the catalogue and the publisher, listen, and on
SIGTERM stop accepting, finish the requests in flight and flush Kafka."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from streams.catalogue.follower import PetitionLookup
from streams.core.capped_site import CappedSite
from streams.core.heap import settle_heap
from streams.core.redact import redact_dsn
from streams.core.settings import Settings
from streams.core.signals import until_terminated
from streams.core.topics import create_topics
from streams.intake.metrics import CONNECTIONS_REFUSED
from streams.intake.server import build
from streams.intake.service import Intake
from streams.publish import AsyncPublisher
from streams.publish.sealer import Sealer

log = logging.getLogger(__name__)


async def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT; then stop accepting, finish the requests in flight
    and flush the producer, so no signer who got a 202 is lost."""
    # Like the worker, the intake may be the first process on a new cluster or prefix.
    await asyncio.to_thread(create_topics, settings)
    petitions = PetitionLookup(settings)
    await asyncio.to_thread(petitions.start)
    sealer = None
    if settings.seal_personal_data:
        sealer = await asyncio.to_thread(Sealer.start, settings)
        log.info("sealing signers' personal data (docs/privacy.md)")
    publisher = AsyncPublisher(
        settings,
        delivery_timeout=settings.intake_delivery_timeout_seconds,
        coalesce_seconds=settings.intake_coalesce_ms / 1000,
        coalesce_max=settings.intake_coalesce_max,
        coalesce_target=settings.intake_coalesce_target,
        sealer=sealer,
    )
    intake = Intake(settings, petitions, publisher)
    app = build(intake)

    async def close(_: web.Application) -> None:
        await intake.confirmations.close()
        await intake.withdrawals.close()
        remaining = await publisher.close()
        if sealer is not None:
            await asyncio.to_thread(sealer.close)
        petitions.stop()
        log.info("intake stopped; %d events were not delivered", remaining)

    app.on_cleanup.append(close)
    runner = web.AppRunner(
        app,
        shutdown_timeout=30,
        access_log=None,
        # aiohttp closes a connection that idles, or has not sent a complete request
        # head, this long after it opened or after its last answer (slow headers)...
        keepalive_timeout=settings.intake_keepalive_timeout_seconds,
        # ... and reads what is left of an unread body no longer than a body may take.
        lingering_time=settings.intake_body_timeout_seconds,
    )
    await runner.setup()
    # A deep accept backlog: bursts of new connections wait instead of being dropped
    # and retried a second later (the benchmark saw that at aiohttp's default of 128).
    site = CappedSite(
        runner,
        settings.bind_host,
        settings.intake_port,
        max_connections=settings.intake_max_connections,
        on_refused=CONNECTIONS_REFUSED.inc,
        backlog=1024,
        reuse_port=settings.intake_reuse_port,
    )
    await site.start()
    settle_heap()
    log.info(
        "intake on http://%s:%d/ (form: /petitions/<id>/sign) -> %s at %s",
        settings.bind_host,
        settings.intake_port,
        publisher.topic,
        redact_dsn(settings.kafka_bootstrap_servers),
    )
    await until_terminated()
    log.info("stopping: finishing requests in flight and flushing Kafka")
    intake.stopping.set()
    await runner.cleanup()
