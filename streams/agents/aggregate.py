"""route + aggregate: signatures.accepted -> running totals on counts.regional.

signatures.accepted is keyed by dedupe key; totals are per (petition, country), so
``route`` re-keys each accepted signature onto an internal repartition topic, and
``aggregate`` owns the totals of the keys of its partitions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.codec import codec
from streams.agents.dedupe import ROCKSDB_OPTIONS
from streams.agents.topology import Topology
from streams.app import CountersignApp
from streams.errors import MalformedMessage
from streams.rules.aggregate import count_key, minute_key, minute_of, regional_count


def register(app: CountersignApp, topics: Topology) -> tuple[Any, Any]:
    partitions = app.countersign_settings.topic_partitions
    totals = app.Table(
        "totals",
        default=int,
        partitions=partitions,
        key_type=str,
        value_type=int,
        options=dict(ROCKSDB_OPTIONS),
    )
    per_minute = app.Table(
        "per-minute",
        default=int,
        partitions=partitions,
        key_type=str,
        value_type=int,
        options=dict(ROCKSDB_OPTIONS),
    )
    accepted_codec = codec("SignatureAccepted")
    count_codec = codec("RegionalCount")

    @app.agent(topics.accepted, name="route", concurrency=1)
    async def route(stream: Any) -> None:
        async for event in stream.events():
            try:
                record = accepted_codec.decode(event.message.value)
            except MalformedMessage:
                continue  # dedupe only forwards records it decoded; nothing to count
            key = count_key(record["petition_id"], record["country"])
            await topics.accepted_by_country.send(key=key.encode(), value=event.message.value)

    @app.agent(topics.accepted_by_country, name="aggregate", concurrency=1)
    async def aggregate(stream: Any) -> None:
        async for event in stream.events():
            record = accepted_codec.decode(event.message.value)
            key = count_key(record["petition_id"], record["country"])
            minute = minute_key(
                record["petition_id"], record["country"], minute_of(record["submitted_at"])
            )
            totals[key] += 1
            per_minute[minute] += 1
            count = regional_count(
                record,
                signatures=totals[key],
                minute_signatures=per_minute[minute],
                now=datetime.now(UTC),
            )
            await topics.counts.send(key=key.encode(), value=count_codec.encode(count))

    return route, aggregate
