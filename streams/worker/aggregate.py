"""aggregate: the dedupe stage's partial counts -> exact totals on counts.regional.

The partial counts arrive keyed by petition, so every partition's numbers for one
petition meet here. The table keeps the newest report per dedupe partition, by its
version (``rules.aggregate.fold``); a country's totals are their sums, published on
counts.regional when they moved. A report delivered again publishes its partition's
totals again (they may not have reached Kafka before a crash); a late or stale one,
from a previous owner, publishes nothing.

A total that moved is published from a timer (``counts_interval_seconds``), once per
round however many reports moved it, and before every commit
(``CountersignApp.before_flush``): no report's offset is committed before the totals
it moved were handed to the output producer, which the commit then flushes.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from schemas.codec import SharedLastField, codec
from streams.core.errors import MalformedMessage
from streams.core.metrics import EVENTS_IN
from streams.rules.aggregate import DueCounts, fold, merge, report_problem
from streams.rules.keys import count_key
from streams.worker.app import CountersignApp
from streams.worker.engine.tables import table_merged_on_restore
from streams.worker.policy import handle_each
from streams.worker.topology import Topology

log = logging.getLogger(__name__)


def register(app: CountersignApp, topics: Topology) -> Any:
    # Small: one entry per petition, numbers per country and partition; Faust's JSON.
    # v2: counted and pending numbers with versions (a dedupe partition that starts
    # publishes all its numbers again, so a new table fills up by itself).
    # Restored by merging each changelog value in (``rules.aggregate.merge``): a paused
    # worker's late record restored after newer ones sets nothing back.
    partials = table_merged_on_restore(
        app,
        "aggregate-partials-v2",
        merge=merge,
        default=None,
        partitions=app.countersign_settings.topic_partitions,
    )
    partial_codec = codec("PartialCount")
    # A petition's counts of one round share its cut: encoded once (SharedLastField).
    count_encoder = SharedLastField("RegionalCount")
    events_in = EVENTS_IN.labels("aggregate")
    due = DueCounts()

    async def handle(message: Any) -> None:
        events_in.inc()
        try:
            report = partial_codec.decode(message.value)
        except MalformedMessage as exc:  # written by our own dedupe stage only
            log.error("unreadable partial count on %s: %s", message.topic, exc.detail)
            return
        problem = report_problem(report)
        if problem is not None:  # written by something other than our dedupe stage
            log.error(
                "partial count at %s/%s skipped: %s", message.partition, message.offset, problem
            )
            return
        petition_id = report["petition_id"]
        folded, publish, newer = fold(
            partials.get(petition_id),
            report["partition"],
            report["countries"],
            report["pending"],
            report["version"],
            cut=report.get("cut"),
        )
        if newer:
            partials[petition_id] = folded
        due.mark(petition_id, folded, publish)

    async def publish_due() -> None:
        counts = due.take(datetime.now(UTC))
        for count, value in zip(counts, count_encoder.encode_all(counts), strict=True):
            key = count_key(count["petition_id"], count["country"]).encode()
            topics.send(topics.counts, key, value)

    app.before_flush.append(publish_due)

    @app.timer(  # type: ignore[untyped-decorator]
        app.countersign_settings.counts_interval_seconds, name="aggregate-publish-counts"
    )
    async def publish_counts() -> None:
        await publish_due()

    @app.agent(topics.partials, name="aggregate", concurrency=1)
    async def aggregate(stream: Any) -> None:
        await handle_each("aggregate", stream, handle)

    return aggregate
