"""The Faust application: one per process, built from settings (no import-time globals).

The app id carries the topic prefix, so a test run (or a second pipeline on the same
cluster) gets its own consumer group and its own Faust-internal topics.
Why at-least-once with idempotent state, not ``exactly_once``: docs/exactly-once.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from streams.catalogue.follower import PetitionLookup
from streams.core.settings import Settings
from streams.core.topics import create_internal_topics, create_topics
from streams.worker.engine import EngineApp, broker_credentials, unready_by
from streams.worker.health import build_worker_health
from streams.worker.outputs import OutputProducer

log = logging.getLogger(__name__)

#: How often the outputs' delivery reports, errors and log lines are served between
#: two flushes (``OutputProducer.serve_reports``): an idle worker logs a broker's
#: errors when they happen, not at its next commit.
REPORTS_INTERVAL_SECONDS = 1.0


#: Records one poll of the consumer hands over (``broker_max_poll_records``): small
#: enough that every partition with records has its turn within a fraction of a
#: second at one signature a record (bench.phases, docs/benchmarks.md 2026-12-07).
MAX_POLL_RECORDS = 200


class CountersignApp(EngineApp):
    """A Faust app (through the engine seam) that carries the settings it was built from."""

    def __init__(
        self, settings: Settings, petitions: PetitionLookup, *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.countersign_settings = settings
        #: The catalogue, loaded before consuming begins (no event is judged against a
        #: catalogue still loading) and followed while the worker runs.
        self.petitions = petitions
        #: Where the agents' outputs go (``streams.worker.outputs``); set by
        #: ``build_worker``, flushed before every commit.
        self.outputs: OutputProducer | None = None
        #: Stages that hold outputs back to send fewer (the aggregate's totals): each
        #: hands them to the output producer here, before the flush of every commit.
        self.before_flush: list[Callable[[], Awaitable[None]]] = []
        self._web_runner: web.AppRunner | None = None

    async def on_first_start(self) -> None:
        """Create any missing pipeline topic before the consumer subscribes to them:
        a worker on a fresh cluster must not sit idle on "topic not found"."""
        self.countersign_settings.data_dir.mkdir(parents=True, exist_ok=True)
        await super().on_first_start()
        created = await asyncio.to_thread(create_topics, self.countersign_settings)
        new = [name for name, outcome in created.items() if outcome == "created"]
        if new:
            log.info("created missing topics: %s", ", ".join(new))
        await self._declare_internal_topics()
        await asyncio.to_thread(self.petitions.start)
        await self._start_web()

    async def _declare_internal_topics(self) -> None:
        """Faust creates its internal topics (an agent's repartition topic, a table's
        changelog) itself, but a consumer that subscribes before the broker's metadata
        shows one ignores it for good ("Ignoring missing topic"). Seen on a fresh
        broker: the aggregate never ran, or crashed with PartitionsMismatch. So they are
        created here, before the consumer subscribes, and awaited until visible."""
        settings = self.countersign_settings
        agent_topics = [
            name
            for agent in self.agents.values()
            if getattr(agent.channel, "internal", False)
            for name in agent.channel.topics
        ]
        changelogs = [
            name for table in self.tables.values() for name in table.changelog_topic.topics
        ]
        partitions = settings.topic_partitions
        if agent_topics:
            await asyncio.to_thread(create_internal_topics, settings, agent_topics, partitions)
        if changelogs:
            await asyncio.to_thread(
                create_internal_topics, settings, changelogs, partitions, compacted=True
            )

    async def _start_web(self) -> None:
        """Our own small aiohttp server (Faust's web is off): health, readiness and metrics. The
        dashboard and the API are ``countersign serve``'s (streams/web/serve.py)."""
        settings = self.countersign_settings
        self._web_runner = web.AppRunner(build_worker_health(settings, lambda: unready_by(self)))
        await self._web_runner.setup()
        await web.TCPSite(self._web_runner, settings.bind_host, settings.worker_port).start()
        log.info("health and metrics on http://%s:%d/", settings.bind_host, settings.worker_port)

    def output_producer(self) -> OutputProducer:
        """The producer the agents' outputs go through (set by ``build_worker``)."""
        if self.outputs is None:
            raise RuntimeError("the worker has no output producer (build it with build_worker)")
        return self.outputs

    def use_outputs(self, outputs: OutputProducer) -> None:
        """Send the agents' outputs through ``outputs``, flushed before every commit,
        right after ``before_flush`` handed it what they hold back."""
        self.outputs = outputs

        async def hand_over_then_flush() -> None:
            for hand_over in self.before_flush:
                await hand_over()
            await outputs.flush()

        self.before_commit.append(hand_over_then_flush)

        @self.timer(REPORTS_INTERVAL_SECONDS, name="outputs-serve-reports")  # type: ignore[untyped-decorator]
        async def serve_reports() -> None:
            outputs.serve_reports()

    async def on_stop(self) -> None:
        if self.outputs is not None:
            await self.outputs.close()
        if self._web_runner is not None:
            await self._web_runner.cleanup()
        await asyncio.to_thread(self.petitions.stop)
        await super().on_stop()


def create_app(settings: Settings, petitions: PetitionLookup) -> CountersignApp:
    brokers = ";".join(
        f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")
    )
    return CountersignApp(
        settings,
        petitions,
        settings.group_id(),
        broker=brokers,
        broker_credentials=broker_credentials(settings),
        processing_guarantee=settings.processing_guarantee,
        store="rocksdb://",
        datadir=str(settings.data_dir / "faust"),
        # Our own aiohttp server serves settings.worker_port (health and metrics).
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        # One worker per machine here: a standby replica would sit on the same disk.
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        # The audit log takes events up to 2 MiB so that oversized ones reach validate.
        consumer_max_fetch_size=4 * 1024 * 1024,
        broker_commit_interval=settings.commit_interval_seconds,
        broker_session_timeout=settings.consumer_session_timeout_seconds,
        producer_linger=settings.producer_linger_seconds,
        producer_max_batch_size=256 * 1024,
        autodiscover=False,
        # At most this many records a fetch hands over, partitions served in turn
        # (engine.serve_partitions_in_turn): a backlog of submissions no longer holds
        # the records sent home and the partial counts back until it is all handled.
        broker_max_poll_records=MAX_POLL_RECORDS,
    )
