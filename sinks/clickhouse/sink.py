"""The sink loop: Kafka -> ClickHouse, one insert per table per cycle, offsets
committed only after ClickHouse has every insert of the cycle.

One insert per table, not per topic-partition: an embedded ClickHouse insert costs
~20 ms however small it is (``bench.sink_throughput``), and a cycle of a busy
pipeline holds records of up to 6 partitions of 3 topics per table.
Each insert carries ``insert_deduplication_token`` naming every
``topic/partition/first-last`` range it holds, so the very same insert written twice
(a retry after a timeout whose insert did land, while the same partitions are still
the sink's) is stored once; and the tables
collapse repeats by key (dedupe key; source position;
the newest version per petition and country), so records delivered again in *other*
batches (a replay, a reset of the sink's offsets) do not change a count either.
When ClickHouse fails, the sink pauses its partitions, backs off (1 s doubling to
30 s), logs, counts the stall, and retries the same batch: nothing is skipped and
the worker does not crash.

Partitions may move while it waits (another sink joins or leaves the group, a
session times out), so the consumer loop keeps three promises:

- a partition assigned while the sink waits for ClickHouse is paused at once, and a
  record that a poll returns while it waits is never dropped: its partition is
  rewound to it (``seek``) and paused, so it is read again after the outage;
- a batch whose partition is no longer the sink's is given up, neither written nor
  committed: its new owner reads it from the committed offset. (One revoked and
  assigned back is still written: its position went back to the committed offset,
  so it is read again, and writing twice changes nothing.)
- offsets are committed only for batches ClickHouse took, of partitions still the
  sink's; if Kafka refuses the commit, those partitions are rewound to what was
  committed, so that the tables hold no record beyond the committed offsets
  (``rebuild`` relies on that between two cycles) and none is skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from clickhouse_connect.driver.client import Client
from confluent_kafka import KafkaException, Message, TopicPartition

from schemas.codec import SharedLastField, codec, millis_codec
from sinks.clickhouse.columns import row_problem
from sinks.clickhouse.rows import (
    CONFIRMATION_COLUMNS,
    LOG_HEAD_COLUMNS,
    LOG_LEAF_COLUMNS,
    MODERATION_COLUMNS,
    REGIONAL_COUNT_COLUMNS,
    REJECTION_COLUMNS,
    SIGNATURE_COLUMNS,
    RegionalCountRows,
    confirmation_row,
    log_head_row,
    log_leaf_row,
    moderation_row,
    rejection_row,
    signature_row,
)
from streams.core import kafka
from streams.core.errors import MalformedMessage, SinkUnavailable
from streams.core.settings import Settings
from streams.core.topicspecs import (
    ACCEPTED,
    CONFIRMATIONS,
    COUNTS,
    DUPLICATES,
    LOG_HEADS,
    LOG_LEAVES,
    MODERATIONS,
    REJECTED,
)

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
class TableFeed:
    """How one topic's records become rows of one table: the record type to decode
    them as, and the row builder (``sinks.clickhouse.rows``)."""

    table: str
    columns: list[str]
    record_type: str
    to_row: Callable[[dict[str, Any], int], list[Any]]
    #: How a record is decoded, when not by its type's codec (the counts of a round
    #: share their last field: ``schemas.codec.SharedLastField``).
    decode: Callable[[bytes], dict[str, Any]] | None = None

    def row(self, value: bytes | None, partition: int) -> list[Any]:
        """The row of one record; ``MalformedMessage`` if it does not read."""
        decode = self.decode or codec(self.record_type).decode
        return self.to_row(decode(value or b""), partition)


def sink_group_id(settings: Settings) -> str:
    return settings.group_id("clickhouse-sink")


class ClickHouseSink:
    def __init__(self, settings: Settings, client: Client) -> None:
        self.client = client
        self.batch_size = settings.sink_batch_size
        self.batch_seconds = settings.sink_batch_seconds
        self.stats = SinkStats()
        database = settings.clickhouse_database
        # One row per signature or rejection: their timestamps go in as the numbers
        # they are on the wire (``millis_codec``), never made into datetimes.
        signatures = TableFeed(
            f"{database}.signatures",
            [*SIGNATURE_COLUMNS, "home_partition"],
            "SignatureAccepted",
            signature_row,
            millis_codec("SignatureAccepted").decode,
        )
        rejections = TableFeed(
            f"{database}.rejections",
            [*REJECTION_COLUMNS, "home_partition"],
            "SignatureRejected",
            rejection_row,
            millis_codec("SignatureRejected").decode,
        )
        counts = TableFeed(
            f"{database}.regional_counts",
            REGIONAL_COUNT_COLUMNS,
            "RegionalCount",
            RegionalCountRows(),
            SharedLastField("RegionalCount").decode,
        )
        confirmations = TableFeed(
            f"{database}.confirmations",
            CONFIRMATION_COLUMNS,
            "SignatureConfirmed",
            confirmation_row,
        )
        moderations = TableFeed(
            f"{database}.moderations", MODERATION_COLUMNS, "SignatureModerated", moderation_row
        )
        log_leaves = TableFeed(f"{database}.log_leaves", LOG_LEAF_COLUMNS, "LogLeaf", log_leaf_row)
        log_heads = TableFeed(f"{database}.log_heads", LOG_HEAD_COLUMNS, "LogHead", log_head_row)
        # The public log's topics exist only with the log on (``topics_in_use``).
        logs = (
            {settings.topic(LOG_LEAVES.name): log_leaves, settings.topic(LOG_HEADS.name): log_heads}
            if settings.transparency_log
            else {}
        )
        self.routes = {
            **logs,
            settings.topic(COUNTS.name): counts,
            settings.topic(CONFIRMATIONS.name): confirmations,
            settings.topic(MODERATIONS.name): moderations,
            settings.topic(ACCEPTED.name): signatures,
            settings.topic(REJECTED.name): rejections,
            settings.topic(DUPLICATES.name): rejections,
        }
        self.settings = settings
        self.group_id = sink_group_id(settings)
        self.consumer = kafka.consumer(settings, group_id=self.group_id)
        #: Whether the consumer has joined the group: at the first cycle, not here. A
        #: member that joins and then does not poll holds up every rebalance of its
        #: group (seen: another member's join waited past 60 s).
        self._subscribed = False
        #: The partitions assigned to this sink now (kept by the rebalance callbacks).
        self._owned: set[tuple[str, int]] = set()
        #: True while a batch waits for ClickHouse (the assignment is paused).
        self._waiting = False
        #: Where each partition was rewound to while waiting (the lowest offset wins).
        self._put_back_at: dict[tuple[str, int], int] = {}
        self._backoff = 1.0
        #: Held for each cycle (consume, write, commit): ``held`` takes it between
        #: two cycles, when the tables hold exactly the committed records.
        self._cycle_lock = threading.Lock()
        self._hold = threading.Event()
        #: Each table's column types, read from ClickHouse at its first batch.
        self._types: dict[str, tuple[str, ...]] = {}

    @property
    def partitions(self) -> int:
        """How many partitions are assigned to this sink now (read from any thread:
        asking the consumer itself from another thread can deadlock a rebalance)."""
        return len(self._owned)

    def lag(self) -> int:
        """Records the sink has yet to write (from Kafka's committed offsets)."""
        return kafka.group_lag(self.settings, self.group_id, list(self.routes))

    # -- rebalances (called inside consume/poll, in the sink's thread) -------------------
    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        # The sink's consumer uses librdkafka's default, eager protocol: assign() here.
        consumer.assign(partitions)
        self._owned = {(tp.topic, tp.partition) for tp in partitions}
        if self._waiting and partitions:  # nothing is fetched while ClickHouse refuses
            consumer.pause(partitions)

    def _on_revoke(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        self._owned -= {(tp.topic, tp.partition) for tp in partitions}

    # -- one cycle ----------------------------------------------------------------------
    def run_once(self, stop: threading.Event | None = None) -> int:
        """Consume up to one batch, write it as one insert per table, commit. Returns
        the rows written."""
        if not self._subscribed:
            self.consumer.subscribe(
                list(self.routes), on_assign=self._on_assign, on_revoke=self._on_revoke
            )
            self._subscribed = True
        messages = [
            m
            for m in self.consumer.consume(self.batch_size, timeout=self.batch_seconds)
            if m.error() is None
        ]
        by_table: dict[str, dict[tuple[str, int], list[Message]]] = defaultdict(dict)
        for message in messages:
            topic, partition = message.topic(), message.partition()
            assert topic is not None and partition is not None
            by_table[self.routes[topic].table].setdefault((topic, partition), []).append(message)
        written = 0
        taken: dict[tuple[str, int], list[Message]] = {}
        for parts in by_table.values():
            if stop is not None and stop.is_set():
                break
            landed = self._write_until_taken(parts, stop)
            if landed is None:  # stopping: read again from the commit
                continue
            rows, kept = landed
            written += rows
            taken.update(kept)
        self._commit(taken)
        return written

    def _commit(self, taken: dict[tuple[str, int], list[Message]]) -> None:
        """One commit for the cycle, after ClickHouse has every batch of it, for the
        partitions still ours; if Kafka refuses it, rewind them to what was committed."""
        offsets = [
            TopicPartition(topic, partition, _offset(batch[-1]) + 1)
            for (topic, partition), batch in taken.items()
            if (topic, partition) in self._owned
        ]
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            log.warning("commit refused (%s); those records will be written again", exc)
            for tp in offsets:
                self._rewind(tp.topic, tp.partition, _offset(taken[tp.topic, tp.partition][0]))

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                if self._hold.is_set():
                    time.sleep(0.05)
                    continue
                with self._cycle_lock:
                    self.run_once(stop)
        finally:
            with suppress(RuntimeError):  # already closed: the reason it failed, re-raised
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
    def _rows(self, route: TableFeed, batch: list[Message]) -> list[list[Any]]:
        """The batch's rows; a record that cannot be read, or whose values its table's
        columns cannot hold, is skipped and counted (retrying it would stall the sink
        for good). The same records are skipped on every delivery of the batch, so
        its rows, and its deduplication token, stay the same."""
        rows = []
        for message in batch:
            try:
                row = route.row(message.value(), message.partition() or 0)
            except MalformedMessage as exc:
                self._skip(message, f"unreadable: {exc.detail}")
                continue
            problem = self.misfit(route, row)
            if problem is not None:
                self._skip(message, f"a value its table cannot hold ({problem})")
                continue
            rows.append(row)
        return rows

    def _skip(self, message: Message, why: str) -> None:
        self.stats.skipped_unreadable += 1
        log.error(
            "record %s/%s/%s skipped: %s",
            message.topic(),
            message.partition(),
            message.offset(),
            why,
        )

    def misfit(self, route: TableFeed, row: list[Any]) -> str | None:
        """What in ``row`` its table's columns cannot hold (None: it fits)."""
        return row_problem(self._column_types(route), route.columns, row)

    def _column_types(self, route: TableFeed) -> tuple[str, ...]:
        """The types of the route's columns, as ClickHouse reports them (asked once)."""
        if route.table not in self._types:
            try:
                described = self.client.query(f"DESCRIBE TABLE {route.table}").result_rows
            except Exception as exc:  # any failure of the store: back off and retry
                raise SinkUnavailable(
                    f"ClickHouse did not describe {route.table}: {exc}", 1.0
                ) from exc
            by_name = {str(name): str(column_type) for name, column_type, *_ in described}
            # A tuple: the fit check looks its limits up by it on every row.
            self._types[route.table] = tuple(by_name[column] for column in route.columns)
        return self._types[route.table]

    def write(self, parts: dict[tuple[str, int], list[Message]]) -> int:
        """One insert of the batches of topic-partitions that feed one table, or
        ``SinkUnavailable``."""
        route = self.routes[next(iter(parts))[0]]
        rows = [row for _, batch in sorted(parts.items()) for row in self._rows(route, batch)]
        if not rows:
            return 0
        token = insert_token(parts)
        column_types = self._column_types(route)  # given: no DESCRIBE before each insert
        started = time.perf_counter()
        try:
            self.client.insert(
                route.table,
                rows,
                column_names=route.columns,
                column_type_names=column_types,
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
        self, parts: dict[tuple[str, int], list[Message]], stop: threading.Event | None
    ) -> tuple[int, dict[tuple[str, int], list[Message]]] | None:
        """The rows written and the batches they came from, once ClickHouse took
        them; None when the sink is stopping. The batch of a partition that moved
        meanwhile is given up unwritten (its new owner reads it from the commit)."""
        try:
            while True:
                kept = {where: batch for where, batch in parts.items() if where in self._owned}
                if not kept:
                    return 0, {}
                try:
                    written = self.write(kept)
                except SinkUnavailable as exc:
                    self._refused(exc)
                    if not self._wait(self._backoff, stop):
                        return None
                    self._backoff = min(self._backoff * 2, MAX_BACKOFF_SECONDS)
                    continue
                self._taken()
                return written, kept
        finally:
            if self._waiting:
                self._waiting = False
                self._put_back_at.clear()
                self.consumer.resume(self.consumer.assignment())

    def _refused(self, exc: SinkUnavailable) -> None:
        self.stats.failures += 1
        if self.stats.stalled_since is None:
            self.stats.stalled_since = time.monotonic()
        if not self._waiting:
            self._waiting = True
            self.consumer.pause(self.consumer.assignment())
        log.warning("%s; retrying in %.0f s (consumption paused)", exc, self._backoff)

    def _taken(self) -> None:
        self._backoff = 1.0
        if self.stats.stalled_since is not None:
            stalled = time.monotonic() - self.stats.stalled_since
            self.stats.stalled_seconds += stalled
            self.stats.stalled_since = None
            log.warning("ClickHouse is back after %.1f s; consumption resumes", stalled)

    def _wait(self, seconds: float, stop: threading.Event | None) -> bool:
        """Stay in the group for ``seconds`` (polls serve rebalances) while consumption is
        paused; False if the sink is stopping. A record a poll returns anyway (a
        partition assigned a moment ago) is put back: its partition is rewound to it."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = self.consumer.poll(0.2)
            if message is not None and message.error() is None:
                self._put_back(message)
            if stop is not None and stop.is_set():
                return False
        return True

    def _put_back(self, message: Message) -> None:
        topic, partition = message.topic(), message.partition()
        assert topic is not None and partition is not None
        offset = _offset(message)
        self.consumer.pause([TopicPartition(topic, partition)])
        if offset < self._put_back_at.get((topic, partition), offset + 1):
            self._put_back_at[topic, partition] = offset
            self._rewind(topic, partition, offset)

    def _rewind(self, topic: str, partition: int, offset: int) -> None:
        """Read the partition again from ``offset``; a partition no longer ours is read
        from its committed offset by its next owner anyway."""
        try:
            self.consumer.seek(TopicPartition(topic, partition, offset))
        except KafkaException as exc:
            log.info("could not rewind %s/%d to %d (%s)", topic, partition, offset, exc)


def insert_token(parts: dict[tuple[str, int], list[Message]]) -> str:
    """The insert's deduplication token: every ``topic/partition/first-last`` range it
    holds, in a fixed order, so the same batches give the same token."""
    return ",".join(
        f"{topic}/{partition}/{_offset(batch[0])}-{_offset(batch[-1])}"
        for (topic, partition), batch in sorted(parts.items())
    )


def _offset(message: Message) -> int:
    offset = message.offset()
    assert offset is not None
    return offset
