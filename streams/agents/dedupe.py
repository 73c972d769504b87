"""dedupe: signatures.valid -> signatures.accepted | signatures.duplicates.

One RocksDB table of winners, local to the partition of the dedupe key: the winner
of each (petition, email hash) under ``key:``, and of each signature_id under
``sig:`` (a retried submission repeats its content, hence its dedupe key and its
partition). One table means one changelog, so both entries of a winner are restored
together or not at all.

Idempotent under redelivery (docs/exactly-once.md): an event that finds itself as
the winner was accepted before a crash; it is forwarded again (downstream counts by
dedupe key) and its entries are written again (so the changelog surely has them).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from schemas.codec import codec
from streams.agents.topology import Topology
from streams.app import CountersignApp
from streams.errors import MalformedMessage
from streams.metrics import EVENTS_IN, VERDICTS
from streams.rules.dedupe import Outcome, decide, winner
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


def register(app: CountersignApp, topics: Topology) -> Any:
    partitions = app.countersign_settings.topic_partitions
    # Keys are str, values small dicts: Faust stores both as JSON.
    winners = app.Table(
        "dedupe-winners",
        default=None,
        partitions=partitions,
        options=dict(ROCKSDB_OPTIONS),
    )
    accepted_codec = codec("SignatureAccepted")
    rejected_codec = codec("SignatureRejected")

    @app.agent(topics.valid, name="dedupe", concurrency=1)
    async def dedupe(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            EVENTS_IN.labels("dedupe").inc()
            key = (message.key or b"").decode("utf-8", "replace")
            try:
                record = accepted_codec.decode(message.value)
            except MalformedMessage as exc:
                position = SourcePosition(message.topic, message.partition, message.offset)
                bad = rejection(
                    petition_id=key.split(":", 1)[0],
                    reason=Reason.MALFORMED,
                    detail=f"unreadable record on {message.topic}: {exc.detail}",
                    position=position,
                    received_at=datetime.now(UTC),
                    original=message.value,
                )
                await topics.rejected.send(
                    key=bad.petition_id.encode(), value=rejected_codec.encode(bad.record)
                )
                continue
            key_entry, signature_entry = f"key:{key}", f"sig:{record['signature_id']}"
            decision = decide(
                record,
                winner_of_key=winners.get(key_entry),
                winner_of_signature=winners.get(signature_entry),
            )
            VERDICTS.labels(decision.outcome.value).inc()
            if decision.outcome in (Outcome.ACCEPTED, Outcome.REPLAYED):
                if decision.outcome is Outcome.REPLAYED:
                    log.info("%s won before a restart; forwarding it again", key)
                # The key entry first: a changelog that has the second has the first.
                winners[key_entry] = winner(record)
                winners[signature_entry] = winner(record)
                await topics.accepted.send(key=message.key, value=message.value)
            elif decision.outcome is Outcome.DUPLICATE:
                duplicate = rejection(
                    petition_id=record["petition_id"],
                    reason=Reason.DUPLICATE,
                    detail=decision.detail,
                    signature_id=record["signature_id"],
                    hashed_email=record["email_hash"],
                    received_at=datetime.now(UTC),
                    position=SourcePosition(
                        record["source_topic"],
                        record["source_partition"],
                        record["source_offset"],
                    ),
                )
                await topics.duplicates.send(
                    key=message.key, value=rejected_codec.encode(duplicate.record)
                )

    return dedupe
