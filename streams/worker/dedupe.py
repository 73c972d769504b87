"""dedupe: the first accepted signature per dedupe key wins; the stage's partial counts.

The decision is ``streams.rules.ledger.DedupeLedger``'s; here are its RocksDB table,
the agent on signatures.valid and the timer that publishes the partial counts. One
table of winners, one entry per (petition, email hash) holding the
winner's country, source position and home partition. Each entry lives in its
signer's home partition (``streams.rules.placement``), so the stage runs in two
places that share the table:

* inside ``validate``, for a submission read on its home partition: settled where it
  was read, no extra hop (the common case: our producers key by ``petition_id/bucket``);
* in the ``dedupe`` agent on signatures.valid, for everything validate sent home
  (older producers' plain petition keys, other partitioners).

From the table alone the stage derives how many winners each home partition holds per
(petition, country) and publishes those numbers every ``partials_interval_seconds``,
one record per (petition, partition) that moved: no record per signature is sent just
for counting.

Idempotent under redelivery (docs/exactly-once.md): an event that finds itself as the
winner was accepted before a crash; it is forwarded again (everything downstream is
keyed by the dedupe key), its entry is written again (so the changelog surely has it)
and it is not counted again (the counts are rebuilt from the table on recovery).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from schemas.codec import codec
from schemas.writes import encode_writes, writes_key, writes_of
from streams.core.metrics import EVENTS_IN
from streams.core.settings import Settings
from streams.rules.dedupe import PartialCounts, restores_over
from streams.rules.ledger import DedupeLedger
from streams.rules.outputs import Output
from streams.rules.transparency import signature_commitment
from streams.rules.verdict import SourcePosition
from streams.worker.app import CountersignApp
from streams.worker.engine.tables import WritesPerRecord, table_written_per_record
from streams.worker.policy import Handler, halt_worker, handle_each
from streams.worker.topology import Topology

log = logging.getLogger(__name__)

#: A ledger method that applies one record about one signer (``DedupeLedger.confirmation``).
SignerEvent = Callable[[bytes | None, bytes | None, SourcePosition, datetime], list[Output]]

#: Winners' writes a partition holds before they go to the changelog as one record
#: (the rest go before the next commit): ~100 bytes each, so a record stays far
#: below Kafka's 1 MiB limit, and a restore expands few records.
CHANGELOG_HOLD_WRITES = 500

#: rocksdict's default block cache is 2 GiB per partition; 6 partitions x 2 tables
#: would reserve 24 GiB. 16 MiB each keeps the worker's memory bounded.
ROCKSDB_OPTIONS = {
    "block_cache_size": 16 * 1024 * 1024,
    "block_cache_compressed_size": 0,
    "write_buffer_size": 8 * 1024 * 1024,
    "max_write_buffer_number": 2,
}


def leaf_function(settings: Settings) -> Callable[[Mapping[str, Any]], bytes] | None:
    """A SignatureAccepted record's commitment in the public log, or None while the log
    is off (docs/transparency.md)."""
    if not settings.transparency_log:
        return None
    key = settings.transparency_salt_key.get_secret_value().encode()

    def leaf_of(record: Mapping[str, Any]) -> bytes:
        return signature_commitment(key, record["signature_id"], record["country"])

    return leaf_of


class DedupeStage:
    """The winners table and the ledger over it, shared by both places that settle
    (``validate`` at home, the ``dedupe`` agent), and the timer that publishes the
    partial counts."""

    def __init__(self, app: CountersignApp, topics: Topology) -> None:
        settings = app.countersign_settings
        self.topics = topics
        # Keys and values are our own compact bytes (DedupeKey.table_key, Winner.encode).
        # Its changelog gets one record per CHANGELOG_HOLD_WRITES winners or per
        # commit (TableWrites), not one per winner: 500 signatures cost one send.
        self.winners = table_written_per_record(
            app,
            "dedupe-winners-v3",
            writes_of=writes_of,
            on_unreadable=halt_worker,
            restores_over=restores_over,
            default=None,
            key_type=bytes,  # bytes types make Faust store them raw
            value_type=bytes,
            partitions=settings.topic_partitions,
            options=dict(ROCKSDB_OPTIONS),
        )
        self.writes = WritesPerRecord(
            self.winners,
            encode=encode_writes,
            new_key=writes_key,
            send=self._send_changelog,
            hold_writes=CHANGELOG_HOLD_WRITES,
        )
        self.ledger = DedupeLedger(self.writes, leaf_of=leaf_function(settings))
        self.app = app
        app.before_flush.append(self.send_held_changelog)
        app.before_commit.append(self.persist_changelog_offsets)
        self.partial_codec = codec("PartialCount")
        self.winners.on_recover(self.rebuild_partial_counts)

    async def rebuild_partial_counts(self) -> None:
        self.ledger.partial = PartialCounts.rebuild(self.winners.items())
        log.info("partial counts rebuilt from %d winners", self.ledger.partial.total())

    def _send_changelog(self, topic: str, partition: int, key: bytes, value: bytes) -> None:
        """Through the outputs' producer: flushed before every commit, and one
        idempotent producer for the whole changelog, so its records stay in order."""
        self.app.output_producer().produce(topic, key, value, partition, None, tracked=True)

    async def send_held_changelog(self) -> None:
        """Before the flush that precedes a commit: the table writes held back go out."""
        self.writes.send_held()

    async def persist_changelog_offsets(self) -> None:
        """Before a commit: note in the local store how far the changelog Kafka took
        reaches (a restart restores only what came after)."""
        changelog = self.writes.changelog
        delivered = self.app.output_producer().take_delivered()
        self.writes.persist({p: offsets for (t, p), offsets in delivered.items() if t == changelog})

    def end_record(self, read_at: SourcePosition) -> None:
        """The record read at ``read_at`` was handled: its table writes go to the
        changelog with the next held batch (``CHANGELOG_HOLD_WRITES``), at the latest
        before the next commit. Every handler calls it before its record is
        acknowledged."""
        self.writes.end_record(read_at.partition)

    async def publish_partial_counts(self) -> None:
        for (petition_id, partition), report in self.ledger.partial.take_changed():
            record = {
                "petition_id": petition_id,
                "partition": partition,
                "countries": report.counted,
                "pending": report.pending,
                "version": report.version,
                "cut": report.cut.as_record(partition),
            }
            self.topics.send(
                self.topics.partials, petition_id.encode(), self.partial_codec.encode(record)
            )


def register(app: CountersignApp, topics: Topology) -> DedupeStage:
    stage = DedupeStage(app, topics)
    events_in = EVENTS_IN.labels("dedupe")

    @app.timer(  # type: ignore[untyped-decorator]
        app.countersign_settings.partials_interval_seconds, name="dedupe-publish-partial-counts"
    )
    async def publish_partial_counts() -> None:
        await stage.publish_partial_counts()

    async def handle(message: Any) -> None:
        """A signature that validate sent home: settle it here."""
        events_in.inc()
        read_at = SourcePosition(message.topic, message.partition, message.offset)
        outputs = stage.ledger.settle_sent_home(
            message.key, message.value, message.headers, read_at, datetime.now(UTC)
        )
        for output in outputs:
            topics.send_output(output)
        stage.end_record(read_at)

    @app.agent(topics.valid, name="dedupe", concurrency=1)
    async def dedupe(stream: Any) -> None:
        await handle_each("dedupe", stream, handle)

    def signer_events(name: str, apply: SignerEvent) -> Handler:
        """The handler of a topic of events about one signer each (confirmations,
        moderations), which the intake or ops sent to the signer's home partition."""
        events_in = EVENTS_IN.labels(name)

        async def handle(message: Any) -> None:
            events_in.inc()
            read_at = SourcePosition(message.topic, message.partition, message.offset)
            outputs = apply(message.key, message.value, read_at, datetime.now(UTC))
            stage.end_record(read_at)
            for output in outputs:
                topics.send_output(output)

        return handle

    on_confirmation = signer_events("confirm", stage.ledger.confirmation)
    on_moderation = signer_events("moderate", stage.ledger.moderation)

    @app.agent(topics.confirmations, name="confirm", concurrency=1)
    async def confirm(stream: Any) -> None:
        await handle_each("confirm", stream, on_confirmation)

    @app.agent(topics.moderations, name="moderate", concurrency=1)
    async def moderate(stream: Any) -> None:
        await handle_each("moderate", stream, on_moderation)

    return stage
