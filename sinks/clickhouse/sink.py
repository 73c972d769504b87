"""The sink loop: Kafka -> ClickHouse, a batch per topic-partition, offsets committed
only after ClickHouse has the batch.

Each batch carries ``insert_deduplication_token = topic/partition/first-last``, so the
very same batch written twice (a retry after a timeout whose insert did land) is
stored once; and the tables collapse repeats by key (dedupe key; source position;
the largest total per petition and country), so records delivered again in *other*
batches (a replay, a reset of the sink's offsets) do not change a count either.
When ClickHouse fails, the sink pauses its partitions, backs off (1 s doubling to
30 s), logs, counts the stall, and retries the same batch: nothing is skipped and
the worker does not crash.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from clickhouse_connect.driver.client import Client
from confluent_kafka import Message, TopicPartition

from schemas.codec import codec
from sinks.clickhouse.rows import (
    CONFIRMATION_COLUMNS,
    REGIONAL_COUNT_COLUMNS,
    REJECTION_COLUMNS,
    SIGNATURE_COLUMNS,
    confirmation_row,
    regional_count_row,
    rejection_row,
    signature_row,
)
from streams.core import kafka
from streams.core.errors import MalformedMessage, SinkUnavailable
from streams.core.settings import Settings
from streams.core.topics import ACCEPTED, CONFIRMATIONS, COUNTS, DUPLICATES, REJECTED

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30.0


@dataclass
class SinkStats:
    """What the sink has done; ``countersign serve`` exports it as metrics."""

    batches: int = 0
    rows: int = 0
    failures: int = 0
    stalled_seconds: float = 0.0
    last_batch_seconds: float = 0.0
    skipped_unreadable: int = 0
    stalled_since: float | None = None
    by_table: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(frozen=True)
class Route:
    table: str
    columns: list[str]
    record_type: str
    to_row: Callable[[dict[str, Any]], list[Any]]


def sink_group_id(settings: Settings) -> str:
    return settings.group_id("clickhouse-sink")


class ClickHouseSink:
    def __init__(self, settings: Settings, client: Client) -> None:
        self.client = client
        self.batch_size = settings.sink_batch_size
        self.batch_seconds = settings.sink_batch_seconds
        self.stats = SinkStats()
        database = settings.clickhouse_database
        signatures = Route(
            f"{database}.signatures", SIGNATURE_COLUMNS, "SignatureAccepted", signature_row
        )
        rejections = Route(
            f"{database}.rejections", REJECTION_COLUMNS, "SignatureRejected", rejection_row
        )
        counts = Route(
            f"{database}.regional_counts",
            REGIONAL_COUNT_COLUMNS,
            "RegionalCount",
            regional_count_row,
        )
        confirmations = Route(
            f"{database}.confirmations",
            CONFIRMATION_COLUMNS,
            "SignatureConfirmed",
            confirmation_row,
        )
        self.routes = {
            settings.topic(COUNTS.name): counts,
            settings.topic(CONFIRMATIONS.name): confirmations,
            settings.topic(ACCEPTED.name): signatures,
            settings.topic(REJECTED.name): rejections,
            settings.topic(DUPLICATES.name): rejections,
        }
        self.settings = settings
        self.group_id = sink_group_id(settings)
        self.consumer = kafka.consumer(settings, group_id=self.group_id)
        self.consumer.subscribe(list(self.routes))
        #: Held for each cycle (consume, write, commit): ``held`` takes it between
        #: two cycles, when the tables hold exactly the committed records.
        self._cycle_lock = threading.Lock()
        self._hold = threading.Event()

    def lag(self) -> int:
        """Records the sink has yet to write (from Kafka's committed offsets)."""
        return kafka.group_lag(self.settings, self.group_id, list(self.routes))

    # -- one cycle ----------------------------------------------------------------------
    def run_once(self, stop: threading.Event | None = None) -> int:
        """Consume up to one batch, write it per topic-partition, commit. Returns rows."""
        messages = [
            m
            for m in self.consumer.consume(self.batch_size, timeout=self.batch_seconds)
            if m.error() is None
        ]
        groups: dict[tuple[str, int], list[Message]] = defaultdict(list)
        for message in messages:
            groups[message.topic(), message.partition()].append(message)  # type: ignore[index]
        written = 0
        offsets = []
        for (topic, partition), batch in groups.items():
            written += self._write_until_taken(topic, partition, batch, stop)
            last = batch[-1].offset()
            assert last is not None
            offsets.append(TopicPartition(topic, partition, last + 1))
        if offsets:  # one commit for the cycle, after ClickHouse has every batch of it
            self.consumer.commit(offsets=offsets, asynchronous=False)
        return written

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self._hold.is_set():
                time.sleep(0.05)
                continue
            with self._cycle_lock:
                self.run_once(stop)
        self.consumer.close()

    @contextmanager
    def held(self) -> Iterator[None]:
        """The sink waits between two cycles while this is entered (``rebuild``)."""
        self._hold.set()
        try:
            with self._cycle_lock:
                yield
        finally:
            self._hold.clear()

    # -- writing ------------------------------------------------------------------------
    def _rows(self, route: Route, batch: list[Message]) -> list[list[Any]]:
        rows = []
        for message in batch:
            try:
                rows.append(route.to_row(codec(route.record_type).decode(message.value() or b"")))
            except MalformedMessage as exc:
                self.stats.skipped_unreadable += 1
                log.error(
                    "unreadable record %s/%s/%s skipped: %s",
                    message.topic(),
                    message.partition(),
                    message.offset(),
                    exc.detail,
                )
        return rows

    def write(self, topic: str, partition: int, batch: list[Message]) -> int:
        """One insert for one topic-partition's batch, or ``SinkUnavailable``."""
        route = self.routes[topic]
        rows = self._rows(route, batch)
        if not rows:
            return 0
        token = f"{topic}/{partition}/{batch[0].offset()}-{batch[-1].offset()}"
        started = time.perf_counter()
        try:
            self.client.insert(
                route.table,
                rows,
                column_names=route.columns,
                settings={"insert_deduplication_token": token},
            )
        except Exception as exc:  # any failure of the store: back off and retry
            raise SinkUnavailable(f"ClickHouse did not take {token}: {exc}", 1.0) from exc
        self.stats.last_batch_seconds = time.perf_counter() - started
        self.stats.batches += 1
        self.stats.rows += len(rows)
        self.stats.by_table[route.table] += len(rows)
        return len(rows)

    def _write_until_taken(
        self, topic: str, partition: int, batch: list[Message], stop: threading.Event | None
    ) -> int:
        backoff = 1.0
        while True:
            try:
                written = self.write(topic, partition, batch)
            except SinkUnavailable as exc:
                self.stats.failures += 1
                if self.stats.stalled_since is None:
                    self.stats.stalled_since = time.monotonic()
                    self.consumer.pause(self.consumer.assignment())
                log.warning("%s; retrying in %.0f s (consumption paused)", exc, backoff)
                deadline = time.monotonic() + backoff
                while time.monotonic() < deadline:
                    self.consumer.poll(0.2)  # stay in the group while paused
                    if stop is not None and stop.is_set():
                        raise
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            if self.stats.stalled_since is not None:
                stalled = time.monotonic() - self.stats.stalled_since
                self.stats.stalled_seconds += stalled
                self.stats.stalled_since = None
                self.consumer.resume(self.consumer.assignment())
                log.warning("ClickHouse is back after %.1f s; consumption resumed", stalled)
            return written
