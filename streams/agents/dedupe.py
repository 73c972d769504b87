"""dedupe: signatures.valid -> signatures.accepted | signatures.duplicates.

Two RocksDB tables, both keyed within the partition of the dedupe key: the winner of
each (petition, email hash), and the winner of each signature_id (a retried
submission repeats its content, hence its dedupe key and its partition).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from schemas.codec import codec
from streams.agents.topology import Topology
from streams.app import CountersignApp
from streams.errors import MalformedMessage
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
    seen_keys = app.Table(
        "dedupe-keys",
        default=None,
        partitions=partitions,
        options=dict(ROCKSDB_OPTIONS),
    )
    seen_signatures = app.Table(
        "dedupe-signature-ids",
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
            decision = decide(
                record,
                winner_of_key=seen_keys.get(key),
                winner_of_signature=seen_signatures.get(record["signature_id"]),
            )
            if decision.outcome is Outcome.ACCEPTED:
                seen_keys[key] = seen_signatures[record["signature_id"]] = winner(record)
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
            else:
                log.info("%s was accepted before; not counted again", key)

    return dedupe
