"""aggregate: the dedupe stage's partial counts -> exact totals on counts.regional.

The partial counts arrive keyed by petition:country, so all partitions' numbers for
one (petition, country) meet here. The table keeps the largest number reported per
dedupe partition (``rules.aggregate.fold``); the total is their sum. A report that
changes nothing (redelivered, late, from a previous owner) publishes nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from schemas.codec import codec
from streams.agents.topology import Topology
from streams.app import CountersignApp
from streams.errors import MalformedMessage
from streams.metrics import EVENTS_IN
from streams.rules.aggregate import fold, regional_count
from streams.rules.keys import count_key

log = logging.getLogger(__name__)


def register(app: CountersignApp, topics: Topology) -> Any:
    # Small: one entry per (petition, country), a few numbers each; Faust's JSON values.
    partials = app.Table(
        "aggregate-partials",
        default=None,
        partitions=app.countersign_settings.topic_partitions,
    )
    partial_codec = codec("PartialCount")
    count_codec = codec("RegionalCount")
    events_in = EVENTS_IN.labels("aggregate")

    @app.agent(topics.partials, name="aggregate", concurrency=1)
    async def aggregate(stream: Any) -> None:
        async for event in stream.events():
            events_in.inc()
            try:
                report = partial_codec.decode(event.message.value)
            except MalformedMessage as exc:  # written by our own dedupe stage only
                log.error("unreadable partial count on %s: %s", event.message.topic, exc.detail)
                continue
            petition_id, country = report["petition_id"], report["country"]
            key = count_key(petition_id, country)
            folded = fold(partials.get(key), report["partition"], report["signatures"])
            if folded is None:
                continue
            partials[key] = folded
            count = regional_count(petition_id, country, folded, datetime.now(UTC))
            await topics.counts.send(key=key.encode(), value=count_codec.encode(count))

    return aggregate
