"""dedupe: signatures.valid -> signatures.accepted | signatures.duplicates, and the
stage's partial counts -> the aggregate.

One RocksDB table of winners, local to the partition of the dedupe key: one entry per
(petition, email hash), holding the winner's country and source position. From that
table alone the stage derives how many winners each of its partitions holds per
(petition, country) and publishes those numbers every ``partials_interval_seconds``,
one record per (petition, partition) that moved: no record per signature is sent
just for counting.

Idempotent under redelivery (docs/exactly-once.md): an event that finds itself as the
winner was accepted before a crash; it is forwarded again (everything downstream is
keyed by the dedupe key), its entry is written again (so the changelog surely has it)
and it is not counted again (the counts are rebuilt from the table on recovery).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from schemas.codec import AvroCodec, codec
from streams.agents.topology import Topology
from streams.app import CountersignApp
from streams.errors import MalformedMessage
from streams.metrics import EVENTS_IN, VERDICTS
from streams.rules.dedupe import (
    WINNER_HEADER,
    Outcome,
    PartialCounts,
    Winner,
    decide,
    duplicate_detail,
)
from streams.rules.keys import parse_dedupe_key, partition_of_winner_key, winner_key
from streams.rules.reasons import Reason
from streams.rules.verdict import SourcePosition, rejection

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
    the decoded record. ``MalformedMessage`` when neither can be read."""
    headers = message.headers or ()
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    header = next((value for name, value in pairs if name == WINNER_HEADER), None)
    if header is not None and message.key:
        try:
            petition_id, email_hash = parse_dedupe_key(message.key)
            return petition_id, email_hash, Winner.decode(header)
        except ValueError:
            pass  # not ours after all: read the record itself
    record = accepted_codec.decode(message.value)
    return record["petition_id"], record["email_hash"], Winner.of(record)


def register(app: CountersignApp, topics: Topology) -> Any:
    settings = app.countersign_settings
    partitions = settings.topic_partitions
    # Keys and values are our own compact bytes (rules.keys.winner_key, Winner.encode).
    winners = app.Table(
        "dedupe-winners-v2",
        default=None,
        key_type=bytes,  # bytes types make Faust store them raw
        value_type=bytes,
        partitions=partitions,
        options=dict(ROCKSDB_OPTIONS),
    )
    partial = {"counts": PartialCounts()}
    accepted_codec = codec("SignatureAccepted")
    rejected_codec = codec("SignatureRejected")
    partial_codec = codec("PartialCount")
    events_in = EVENTS_IN.labels("dedupe")
    verdicts = {outcome: VERDICTS.labels(outcome.value) for outcome in Outcome}

    @winners.on_recover
    async def rebuild_partial_counts() -> None:
        partial["counts"] = PartialCounts.rebuild(winners.items(), partitions)
        log.info("partial counts rebuilt from %d winners", partial["counts"].total())

    every = settings.partials_interval_seconds

    @app.timer(every, name="dedupe-publish-partial-counts")  # type: ignore[untyped-decorator]
    async def publish_partial_counts() -> None:
        for (petition_id, partition), countries in partial["counts"].take_changed():
            record = {"petition_id": petition_id, "partition": partition, "countries": countries}
            await topics.partials.send(key=petition_id.encode(), value=partial_codec.encode(record))

    @app.agent(topics.valid, name="dedupe", concurrency=1)
    async def dedupe(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            events_in.inc()
            try:
                petition_id, email_hash, candidate = candidate_of(message, accepted_codec)
            except MalformedMessage as exc:
                await dead_letter(message, exc)
                continue
            key = winner_key(petition_id, email_hash)
            stored_bytes = winners.get(key)
            stored = None if stored_bytes is None else Winner.decode(stored_bytes)
            outcome = decide(candidate, stored)
            verdicts[outcome].inc()
            if outcome is Outcome.DUPLICATE:
                assert stored is not None
                await report_duplicate(message, stored)
                continue
            # Written again on a replay too, so the changelog surely has it.
            winners[key] = candidate.encode()
            if outcome is Outcome.ACCEPTED:
                partial["counts"].add(
                    petition_id, candidate.country, partition_of_winner_key(key, partitions)
                )
            else:
                log.info("%s won before a restart; forwarding it again", key.hex())
            await topics.accepted.send(
                key=message.key, value=message.value, partition=message.partition
            )

    async def report_duplicate(message: Any, winner: Winner) -> None:
        try:
            record = accepted_codec.decode(message.value)
        except MalformedMessage as exc:
            await dead_letter(message, exc)
            return
        duplicate = rejection(
            petition_id=record["petition_id"],
            reason=Reason.DUPLICATE,
            detail=duplicate_detail(record["petition_id"], winner),
            signature_id=record["signature_id"],
            hashed_email=record["email_hash"],
            received_at=datetime.now(UTC),
            position=SourcePosition(
                record["source_topic"], record["source_partition"], record["source_offset"]
            ),
        )
        await topics.duplicates.send(
            key=message.key,
            value=rejected_codec.encode(duplicate.record),
            partition=message.partition,
        )

    async def dead_letter(message: Any, exc: MalformedMessage) -> None:
        bad = rejection(
            petition_id=(message.key or b"").decode("utf-8", "replace").split(":")[0],
            reason=Reason.MALFORMED,
            detail=f"unreadable record on {message.topic}: {exc.detail}",
            position=SourcePosition(message.topic, message.partition, message.offset),
            received_at=datetime.now(UTC),
            original=message.value,
        )
        await topics.rejected.send(
            key=bad.petition_id.encode(), value=rejected_codec.encode(bad.record)
        )

    return dedupe
