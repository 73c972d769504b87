"""``countersign rebuild``: the ClickHouse tables rebuilt from the Kafka topics into
shadow tables, then swapped in with ``EXCHANGE TABLES`` while traffic goes on.

1. Shadow tables ``<table>__rebuild`` are made like the live ones (leftovers of an
   interrupted rebuild are dropped first).
2. Every output topic is copied into them from its start to its end as of now.
3. The live sink is held between two of its cycles, so the live tables hold exactly
   the records up to its committed offsets; whatever the copy has not reached of
   those is copied too, the shadow and live tables swap, and the sink goes on.
   Traffic keeps flowing into Kafka all along; only the sink waits, for seconds.
4. The old tables (now the shadows) are dropped.

Any failure before the swap drops the shadows and leaves the live tables untouched.
Copies use insert tokens of their own (``rebuild/...``) so that no batch of the live
sink is ever mistaken for one of the copy's.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client
from confluent_kafka import TopicPartition

from sinks.clickhouse.sink import ClickHouseSink, TableFeed
from streams.core import kafka
from streams.core.errors import CountersignError, MalformedMessage
from streams.core.logscan import LogRange, LogRecord, scan, whole_log
from streams.core.settings import Settings

log = logging.getLogger(__name__)

SHADOW_SUFFIX = "__rebuild"
#: Rows per insert of the copy.
COPY_BATCH = 20_000


class RebuildRunning(CountersignError, RuntimeError):
    """A rebuild is already under way in this process."""


@dataclass
class RebuildStatus:
    state: str = "idle"  # copying, catching up, swapping, done, failed
    records_total: int = 0
    records_done: int = 0
    rows: int = 0
    skipped_unreadable: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    log_ranges: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Rebuild:
    """One rebuild at a time, run in a thread of ``countersign serve``."""

    def __init__(self, settings: Settings, client: Client, sink: ClickHouseSink) -> None:
        self.settings = settings
        self.client = client
        self.sink = sink
        self.status = RebuildStatus()
        self._thread: threading.Thread | None = None
        #: live table -> route, for each table the sink writes
        self._tables = {route.table: route for route in sink.routes.values()}

    def start(self) -> RebuildStatus:
        if self._thread is not None and self._thread.is_alive():
            raise RebuildRunning("a rebuild is already running")
        self.status = RebuildStatus(state="copying", started_at=_now())
        self._thread = threading.Thread(target=self._run, name="rebuild", daemon=True)
        self._thread.start()
        return self.status

    def _run(self) -> None:
        try:
            self._drop_shadows()
            for table in self._tables:
                self.client.command(f"CREATE TABLE {table}{SHADOW_SUFFIX} AS {table}")
            ranges = [whole_log(self.settings, topic) for topic in self._topic_names()]
            self.status.records_total = sum(r.records for r in ranges)
            self.status.log_ranges = [r.describe() for r in ranges]
            for log_range in ranges:
                self._copy(log_range)
            self.status.state = "catching up"
            with self.sink.held():  # the live sink waits between two of its cycles
                for log_range in ranges:
                    tail = self._uncopied(log_range)
                    self.status.records_total += tail.records
                    self._copy(tail)
                self.status.state = "swapping"
                self._swap()
        except Exception as exc:
            self.status.state = "failed"
            self.status.error = f"{type(exc).__name__}: {exc}"
            log.exception("rebuild failed; the live tables are left as they were")
            self._drop_shadows_quietly()
            self.status.finished_at = _now()
            return
        self.status.state = "done"
        self.status.finished_at = _now()
        log.info("rebuild done: %d rows from %s", self.status.rows, self.status.log_ranges)
        self._drop_shadows_quietly()  # the old tables now; harmless if left

    def _swap(self) -> None:
        """Every shadow table in, or (inside the sink's hold) none: a failed exchange
        puts back the ones already swapped before the sink writes again."""
        swapped: list[str] = []
        try:
            for table in self._tables:
                self.client.command(f"EXCHANGE TABLES {table} AND {table}{SHADOW_SUFFIX}")
                swapped.append(table)
        except Exception:
            for table in reversed(swapped):
                self.client.command(f"EXCHANGE TABLES {table} AND {table}{SHADOW_SUFFIX}")
            raise

    def _drop_shadows_quietly(self) -> None:
        try:
            self._drop_shadows()
        except Exception:
            log.exception("could not drop the shadow tables; the next rebuild will")

    def _topic_names(self) -> list[str]:
        prefix = self.settings.topic_prefix
        return [topic.removeprefix(prefix) for topic in self.sink.routes]

    def _drop_shadows(self) -> None:
        for table in self._tables:
            self.client.command(f"DROP TABLE IF EXISTS {table}{SHADOW_SUFFIX} SYNC")

    def _uncopied(self, copied: LogRange) -> LogRange:
        """What the live sink has committed beyond the copied range."""
        reader = kafka.consumer(self.settings, group_id=self.sink.group_id)
        try:
            committed = reader.committed(
                [TopicPartition(copied.topic, p) for p in copied.offsets], timeout=10
            )
        finally:
            reader.close()
        tail = {}
        for tp in committed:
            end = copied.offsets[tp.partition][1]
            if tp.offset > end:
                tail[tp.partition] = (end, tp.offset)
        return LogRange(copied.topic, tail)

    def _copy(self, log_range: LogRange) -> None:
        route = self.sink.routes[log_range.topic]
        pending: dict[int, list[LogRecord]] = defaultdict(list)

        def advance(n: int) -> None:
            self.status.records_done += n

        for record in scan(self.settings, log_range, advance):
            batch = pending[record.partition]
            batch.append(record)
            if len(batch) >= COPY_BATCH:
                self._insert(log_range.topic, route, batch)
                pending[record.partition] = []
        for batch in pending.values():
            if batch:
                self._insert(log_range.topic, route, batch)

    def _insert(self, topic: str, route: TableFeed, batch: list[LogRecord]) -> None:
        rows = []
        for record in batch:
            try:
                row = route.row(record.value, record.partition)
            except MalformedMessage as exc:
                problem: str | None = f"unreadable: {exc.detail}"
            else:
                problem = self.sink.misfit(route, row)
            if problem is not None:  # skipped as the live sink skips it
                self.status.skipped_unreadable += 1
                log.error(
                    "rebuild: record %s/%d/%d skipped: %s",
                    topic,
                    record.partition,
                    record.offset,
                    problem,
                )
                continue
            rows.append(row)
        if rows:
            first, last = batch[0], batch[-1]
            self.client.insert(
                f"{route.table}{SHADOW_SUFFIX}",
                rows,
                column_names=route.columns,
                settings={
                    "insert_deduplication_token": f"rebuild/{topic}/{first.partition}/"
                    f"{first.offset}-{last.offset}"
                },
            )
            self.status.rows += len(rows)
