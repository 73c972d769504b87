"""route + aggregate: signatures.accepted -> running totals on counts.regional.

signatures.accepted is keyed by dedupe key; totals are per (petition, country), so
``route`` re-keys each accepted signature onto an internal repartition topic, and
``aggregate`` owns the totals of the keys of its partitions.

Idempotent under redelivery (docs/exactly-once.md): the ``counted`` table is the set
of dedupe keys already counted; a redelivered signature finds its key there, is not
counted again, and its RegionalCount is re-published with the same total.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from schemas.codec import codec
from streams.agents.dedupe import ROCKSDB_OPTIONS
from streams.agents.topology import Topology
from streams.app import CountersignApp
from streams.errors import MalformedMessage
from streams.metrics import EVENTS_IN
from streams.rules.aggregate import RunningCounts, count_key, minute_of, regional_count
from streams.rules.verdict import dedupe_key

log = logging.getLogger(__name__)


def register(app: CountersignApp, topics: Topology) -> tuple[Any, Any]:
    counted = app.Table(
        "aggregate-counted",
        default=None,
        partitions=app.countersign_settings.topic_partitions,
        options=dict(ROCKSDB_OPTIONS),
    )
    state = {"counts": RunningCounts()}
    accepted_codec = codec("SignatureAccepted")
    count_codec = codec("RegionalCount")

    @counted.on_recover
    async def rebuild_counts() -> None:
        state["counts"] = RunningCounts.rebuild(counted.items())
        log.info(
            "running counts rebuilt from %d counted signatures",
            sum(state["counts"].totals.values()),
        )

    @app.agent(topics.accepted, name="route", concurrency=1)
    async def route(stream: Any) -> None:
        async for event in stream.events():
            try:
                record = accepted_codec.decode(event.message.value)
            except MalformedMessage:
                log.error("unreadable record on %s; not counted", event.message.topic)
                continue
            key = count_key(record["petition_id"], record["country"])
            await topics.accepted_by_country.send(key=key.encode(), value=event.message.value)

    @app.agent(topics.accepted_by_country, name="aggregate", concurrency=1)
    async def aggregate(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels("aggregate").inc()
            record = accepted_codec.decode(event.message.value)
            signature_key = dedupe_key(record["petition_id"], record["email_hash"])
            key = count_key(record["petition_id"], record["country"])
            minute = minute_of(record["submitted_at"])
            if counted.get(signature_key) is None:
                state["counts"].add(key, minute)
            # Written again on a redelivery too, so the changelog surely has it.
            counted[signature_key] = [key, minute]
            count = regional_count(record, counts=state["counts"], now=datetime.now(UTC))
            await topics.counts.send(key=key.encode(), value=count_codec.encode(count))

    return route, aggregate
