"""dedupe: the first accepted signature per dedupe key wins; the stage's partial counts.

One RocksDB table of winners, one entry per (petition, email hash) holding the
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
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from schemas.codec import AvroCodec, codec
from streams.core.errors import MalformedMessage
from streams.core.metrics import EVENTS_IN, VERDICTS
from streams.rules.dedupe import (
    WINNER_HEADER,
    Outcome,
    PartialCounts,
    Winner,
    decide,
    duplicate_detail,
)
from streams.rules.keys import parse_dedupe_key, petition_of_dedupe_key, winner_key
from streams.rules.reasons import Reason
from streams.rules.verdict import SourcePosition, rejection
from streams.worker.app import CountersignApp
from streams.worker.policy import handle_each
from streams.worker.topology import Topology

log = logging.getLogger(__name__)

#: rocksdict's default block cache is 2 GiB per partition; 6 partitions x 2 tables
#: would reserve 24 GiB. 16 MiB each keeps the worker's memory bounded.
ROCKSDB_OPTIONS = {
    "block_cache_size": 16 * 1024 * 1024,
    "block_cache_compressed_size": 0,
    "write_buffer_size": 8 * 1024 * 1024,
    "max_write_buffer_number": 2,
}


def candidate_of(message: Any, accepted_codec: AvroCodec) -> tuple[str, str, Winner]:
    """``(petition_id, email_hash, candidate)`` of a signatures.valid record: from its
    key and ``WINNER_HEADER`` when validate wrote them (no Avro decoding), else from
    the decoded record. Its home is the partition it was read from, whatever the
    header says: the table entry is written there. ``MalformedMessage`` when neither
    can be read."""
    headers = message.headers or ()
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    header = next((value for name, value in pairs if name == WINNER_HEADER), None)
    if header is not None and message.key:
        try:
            petition_id, email_hash = parse_dedupe_key(message.key)
            sent = Winner.decode(header)
        except ValueError:
            pass  # not ours after all: read the record itself
        else:
            return petition_id, email_hash, replace(sent, home=message.partition)
    record = accepted_codec.decode(message.value)
    return record["petition_id"], record["email_hash"], Winner.of(record, message.partition)


class DedupeStage:
    """The winners table, the partial counts derived from it, and the one decision
    that both places (``validate`` at home, the ``dedupe`` agent) make."""

    def __init__(self, app: CountersignApp, topics: Topology) -> None:
        settings = app.countersign_settings
        self.topics = topics
        # Keys and values are our own compact bytes (rules.keys.winner_key, Winner.encode).
        self.winners = app.Table(
            "dedupe-winners-v3",
            default=None,
            key_type=bytes,  # bytes types make Faust store them raw
            value_type=bytes,
            partitions=settings.topic_partitions,
            options=dict(ROCKSDB_OPTIONS),
        )
        self.partial = PartialCounts()
        self.accepted_codec = codec("SignatureAccepted")
        self.rejected_codec = codec("SignatureRejected")
        self.partial_codec = codec("PartialCount")
        self.verdicts = {outcome: VERDICTS.labels(outcome.value) for outcome in Outcome}
        self.winners.on_recover(self.rebuild_partial_counts)

    async def rebuild_partial_counts(self) -> None:
        self.partial = PartialCounts.rebuild(self.winners.items())
        log.info("partial counts rebuilt from %d winners", self.partial.total())

    async def publish_partial_counts(self) -> None:
        for (petition_id, partition), countries in self.partial.take_changed():
            record = {"petition_id": petition_id, "partition": partition, "countries": countries}
            await self.topics.partials.send(
                key=petition_id.encode(), value=self.partial_codec.encode(record)
            )

    async def settle(
        self,
        *,
        petition_id: str,
        email_hash: str,
        candidate: Winner,
        key: bytes,
        value: bytes,
        read_at: SourcePosition,
        record: dict[str, Any] | None = None,
    ) -> None:
        """Accept, forward again or reject as a duplicate one valid signature, read at
        ``read_at`` on its home partition ``candidate.home``. ``key`` is its dedupe key,
        ``value`` its SignatureAccepted bytes (``record`` the same, decoded, when the
        caller has it)."""
        table_key = winner_key(petition_id, email_hash)
        stored_bytes = self.winners.get(table_key)
        stored = None if stored_bytes is None else Winner.decode(stored_bytes)
        outcome = decide(candidate, stored)
        self.verdicts[outcome].inc()
        if outcome is Outcome.DUPLICATE:
            assert stored is not None
            await self.report_duplicate(key, value, record, stored, read_at)
            return
        # Written again on a replay too, so the changelog surely has it.
        self.winners[table_key] = candidate.encode()
        if outcome is Outcome.ACCEPTED:
            self.partial.add(petition_id, candidate.country, candidate.home)
        else:
            log.info("%s won before a restart; forwarding it again", table_key.hex())
        await self.topics.send(self.topics.accepted, key, value, partition=candidate.home)

    async def report_duplicate(
        self,
        key: bytes,
        value: bytes,
        record: dict[str, Any] | None,
        winner: Winner,
        read_at: SourcePosition,
    ) -> None:
        if record is None:
            try:
                record = self.accepted_codec.decode(value)
            except MalformedMessage as exc:
                await self.dead_letter(value, exc, petition_of_dedupe_key(key), read_at)
                return
        duplicate = rejection(
            petition_id=record["petition_id"],
            reason=Reason.DUPLICATE,
            detail=duplicate_detail(record["petition_id"], winner),
            signature_id=record["signature_id"],
            hashed_email=record["email_hash"],
            received_at=datetime.now(UTC),
            position=SourcePosition(
                record["source_topic"],
                record["source_partition"],
                record["source_offset"],
                record.get("source_index") or 0,
            ),
        )
        await self.topics.send(
            self.topics.duplicates,
            key,
            self.rejected_codec.encode(duplicate.record),
            partition=read_at.partition,
        )

    async def dead_letter(
        self, value: bytes, exc: MalformedMessage, petition_id: str, position: SourcePosition
    ) -> None:
        bad = rejection(
            petition_id=petition_id,
            reason=Reason.MALFORMED,
            detail=f"unreadable record on {position.topic}: {exc.detail}",
            position=position,
            received_at=datetime.now(UTC),
            original=value,
        )
        await self.topics.send(
            self.topics.rejected, bad.petition_id.encode(), self.rejected_codec.encode(bad.record)
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
        try:
            petition_id, email_hash, candidate = candidate_of(message, stage.accepted_codec)
        except MalformedMessage as exc:
            petition = petition_of_dedupe_key(message.key)
            await stage.dead_letter(message.value, exc, petition, read_at)
            return
        await stage.settle(
            petition_id=petition_id,
            email_hash=email_hash,
            candidate=candidate,
            key=message.key,
            value=message.value,
            read_at=read_at,
        )

    @app.agent(topics.valid, name="dedupe", concurrency=1)
    async def dedupe(stream: Any) -> None:
        await handle_each("dedupe", stream, handle)

    return stage
