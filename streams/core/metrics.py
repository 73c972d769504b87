"""Prometheus metrics of a worker, in one registry that /metrics serves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from typing import Any

from prometheus_client import CollectorRegistry, Counter
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


class SinkCollector(Collector):
    """Reads the sink's own statistics (and its consumer lag) at scrape time."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def collect(self) -> Iterator[Any]:
        s = self.sink.stats
        lag = None
        with suppress(Exception):  # Kafka unreachable: the other metrics still matter
            lag = self.sink.lag()
        if lag is not None:
            yield GaugeMetricFamily(
                "countersign_sink_consumer_lag", "Records the sink has yet to write", lag
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
