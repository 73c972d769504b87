"""Prometheus metrics of a worker, in one registry that /metrics serves."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry()

EVENTS_IN = Counter(
    "countersign_agent_events_in", "Events an agent consumed", ["agent"], registry=REGISTRY
)
EVENTS_OUT = Counter(
    "countersign_agent_events_out",
    "Records an agent produced",
    ["agent", "topic"],
    registry=REGISTRY,
)
VERDICTS = Counter(
    "countersign_verdicts",
    "Verdicts by reason (accepted, duplicate, ...)",
    ["reason"],
    registry=REGISTRY,
)


@functools.cache
def verdict_counter(reason: str) -> Any:
    """``VERDICTS`` for ``reason``, its child looked up once (the agents count every
    output; ``labels`` takes a lock and builds a key each time)."""
    return VERDICTS.labels(reason)


class SinkCollector(Collector):
    """The sink's own statistics and its consumer lag as last sampled in the background
    (``SinkService.lag``): a scrape never waits for Kafka."""

    def __init__(self, service: Any) -> None:
        self.service = service

    def collect(self) -> Iterator[Any]:
        s = self.service.sink.stats
        sample = self.service.lag.latest
        if sample.value is not None:  # never read yet (Kafka down since the start): absent
            yield GaugeMetricFamily(
                "countersign_sink_consumer_lag", "Records the sink has yet to write", sample.value
            )
            yield GaugeMetricFamily(
                "countersign_sink_consumer_lag_age_seconds",
                "How long ago the lag was read (it is read in the background)",
                sample.age(),
            )
        yield GaugeMetricFamily(
            "countersign_sink_alive",
            "1 while the sink's thread runs (0: it died, serve must be restarted)",
            1 if self.service.alive else 0,
        )
        yield CounterMetricFamily("countersign_sink_rows", "Rows written to ClickHouse", s.rows)
        yield CounterMetricFamily("countersign_sink_batches", "Batches written", s.batches)
        yield CounterMetricFamily(
            "countersign_sink_failures", "Batches ClickHouse refused (retried)", s.failures
        )
        yield CounterMetricFamily(
            "countersign_sink_skipped_unreadable",
            "Records the sink could not decode and did not write (each one is logged)",
            s.skipped_unreadable,
        )
        yield GaugeMetricFamily(
            "countersign_sink_batch_seconds",
            "Latency of the last batch insert",
            s.last_batch_seconds,
        )
        yield GaugeMetricFamily(
            "countersign_sink_stalled",
            "1 while ClickHouse refuses writes",
            0 if s.stalled_since is None else 1,
        )
        yield CounterMetricFamily(
            "countersign_sink_stalled_seconds",
            "Time spent waiting for ClickHouse",
            s.stalled_seconds,
        )


# The dashboard's live feed (streams/web/live.py): how many watch, and what that costs
# ClickHouse. Polls grow with the petitions watched, not with the viewers.
SSE_VIEWERS = Gauge(
    "countersign_sse_viewers",
    "Open server-sent-event streams (dashboard viewers)",
    registry=REGISTRY,
)
SSE_REFUSED = Counter(
    "countersign_sse_refused",
    "Viewers turned away with 503 because sse_max_connections were open",
    registry=REGISTRY,
)
SSE_COUNT_POLLS = Counter(
    "countersign_sse_count_polls",
    "Reads of a petition's counts by the live feed (one poller per watched petition)",
    registry=REGISTRY,
)
SSE_TIMELINE_POLLS = Counter(
    "countersign_sse_timeline_polls",
    "Reads of a petition's timeline by the live feed (on its schedule)",
    registry=REGISTRY,
)
