"""The engine seam's tables (``streams.worker.engine``): Faust tables whose restore
does what exactness needs, and what records how far their store holds the changelog.

A worker frozen (SIGSTOP, a long pause) with changelog records still in its producer
sends them when it wakes, after the records of the worker that took its partitions
meanwhile. Faust records the offset of every record it sent as how far the local store
holds the changelog, so that worker's next restore skipped the other's records and its
table stayed short for good (the chaos test's shortfall; docs/exactly-once.md,
``tests/e2e/test_frozen_worker.py``). Here that offset advances only through a
writer's own records that follow each other from where its last restore left the
store (``ContiguousOffsets``), and a late record restored after newer ones does not
set an entry back (``restores_over``, ``merge``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
from functools import cached_property
from typing import Any, NoReturn

import faust
from faust import current_event
from faust.types import TP

log = logging.getLogger(__name__)


#: A table's key and its new value in the table's own bytes (None: deleted).
Write = tuple[bytes, bytes | None]


class _Written:
    """One write of a ``TableWrites`` changelog record, shaped as the one-key changelog
    event Faust's stores apply (``Store.apply_changelog_batch`` reads ``key``, ``value``
    and ``message.{tp, offset, partition, key, value}``)."""

    __slots__ = ("key", "message", "value")

    def __init__(self, carrier: Any, key: bytes, value: bytes | None) -> None:
        self.key = key
        self.value = value
        self.message = _WrittenMessage(carrier, key, value)


class _WrittenMessage:
    __slots__ = ("key", "offset", "partition", "tp", "value")

    def __init__(self, carrier: Any, key: bytes, value: bytes | None) -> None:
        self.tp, self.offset, self.partition = carrier.tp, carrier.offset, carrier.partition
        self.key, self.value = key, value


class ContiguousOffsets:
    """Per active partition of a table's changelog, the offset up to which its local
    store holds every record: where the last restore left it (Faust records it as
    the persisted offset while restoring), advanced only through this writer's own
    records that follow each other (``advance``). At a gap (another writer's records
    came first) it stays there until the next restore, which reads the rest."""

    def __init__(self, table: faust.Table[Any, Any]) -> None:
        self.table = table
        self._complete_to: dict[int, int] = {}

    @property
    def changelog(self) -> str:
        return str(self.table.changelog_topic.get_topic_name())

    def restored(self, partitions: Iterable[int]) -> None:
        """A restore ended with ``partitions`` active: start from what it left."""
        self._complete_to = {}
        for partition in partitions:
            persisted = self.table.data.persisted_offset(TP(self.changelog, partition))
            self._complete_to[partition] = -1 if persisted is None else persisted

    def advance(self, partition: int, offsets: Sequence[int]) -> None:
        """Kafka took this writer's records of ``partition`` at ``offsets``: record in
        the store how far it holds the changelog (Faust's recovery restores only what
        comes after)."""
        complete = self._complete_to.get(partition)
        if complete is None:  # not active since the last restore, or past a gap
            return
        reached = complete
        for offset in sorted(offsets):
            if offset == reached + 1:
                reached = offset
            elif offset > reached:
                log.warning(
                    "%s[%d] holds records of another writer before offset %d (this worker "
                    "was paused?): its store is not recorded as complete past %d, and its "
                    "next restore reads from there",
                    self.changelog, partition, offset, reached,
                )  # fmt: skip
                del self._complete_to[partition]
                break
        else:
            self._complete_to[partition] = reached
        if reached > complete:
            self.table.data.set_persisted_offset(TP(self.changelog, partition), reached)


class _RestoredTable(faust.Table[Any, Any]):
    """A Faust table that learns where each restore left its store (``offsets``)."""

    def __init__(self, app: faust.App, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.offsets = ContiguousOffsets(self)

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        """Faust's hook after a rebalance's restore, before any stream resumes: the
        store of each active partition holds its changelog up to its persisted offset."""
        self.offsets.restored(
            tp.partition for tp in active_tps if tp.topic == self.offsets.changelog
        )
        await super().on_recovery_completed(active_tps, standby_tps)


class TableWrittenPerRecord(_RestoredTable):
    """A Faust table whose changelog may hold records of several writes each
    (``WritesPerRecord`` sends them); restoring (recovery, standbys) expands each into
    its writes, at the record's offset, before Faust's store applies them.

    ``writes_of(key, value)`` gives a changelog record's writes, or None for a plain
    one-key record (as Faust writes them, and as older workers did). Faust's recovery
    logs and swallows an exception from here, which would leave the table short: so an
    unreadable record calls ``on_unreadable`` instead, which must not return."""

    def __init__(
        self,
        app: faust.App,
        *,
        writes_of: Callable[[bytes | None, bytes | None], Sequence[Write] | None],
        on_unreadable: Callable[[str], NoReturn],
        restores_over: Callable[[bytes, bytes], bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, **kwargs)
        self.writes_of = writes_of
        self.on_unreadable = on_unreadable
        #: ``restores_over(stored, written)``: whether a restored write may replace
        #: the value the store holds (None: always, as Faust restores).
        self.restores_over = restores_over

    def apply_changelog_batch(self, batch: Iterable[Any]) -> None:
        super().apply_changelog_batch(list(self._expanded(batch)))

    def _expanded(self, batch: Iterable[Any]) -> Iterator[Any]:
        latest: dict[bytes, bytes | None] = {}  # the batch's own writes, not stored yet
        for event in batch:
            message = event.message
            try:
                writes = self.writes_of(message.key, message.value)
            except Exception as exc:
                self.on_unreadable(
                    f"{self.name}: the changelog record at {message.tp}@{message.offset} "
                    f"cannot be restored ({exc})"
                )
            if writes is None:
                yield event
                continue
            for key, value in writes:
                if value is not None and not self._may_restore(key, value, latest):
                    log.warning(
                        "%s: the write at %s@%d is older than the entry it would replace "
                        "(a paused worker's late record?): not restored",
                        self.name, message.tp, message.offset,
                    )  # fmt: skip
                    continue
                latest[key] = value
                yield _Written(message, key, value)

    def _may_restore(self, key: bytes, value: bytes, latest: dict[bytes, bytes | None]) -> bool:
        if self.restores_over is None:
            return True
        stored = latest[key] if key in latest else self.data.get(key)
        return stored is None or self.restores_over(stored, value)


def table_written_per_record(app: faust.App, name: str, **options: Any) -> TableWrittenPerRecord:
    """Define a ``TableWrittenPerRecord`` on ``app``, as ``app.Table`` defines a table."""
    table = TableWrittenPerRecord(app, name=name, beacon=app.tables.beacon, **options)
    app.tables.add(table)
    return table


#: Hands one changelog record (topic, partition, key, value) to a producer that is
#: flushed before every commit (``streams.worker.outputs.OutputProducer``).
SendChangelog = Callable[[str, int, bytes, bytes], None]


class WritesPerRecord(MutableMapping[bytes, bytes]):
    """A ``TableWrittenPerRecord`` as a mapping that reads and writes its local store
    (the partition of the event being handled, as Faust's own writes) and keeps what
    was written; ``end_record`` sends it as one changelog record once a partition
    holds ``hold_writes`` keys, and ``send_held`` sends what is left, through ``send``
    (librdkafka: a few µs, where Faust's aiokafka producer costs ~100). With one
    signature a record, a changelog record per input record cost ~10 % of the
    worker's samples (its encoding, its key, its delivery report); held, the writes
    of many records share one.

    Exactness (docs/exactly-once.md): every handler calls ``end_record`` before its
    record is acknowledged, ``send_held`` runs right before the flush that precedes
    every commit (``CountersignApp.before_flush``), and ``send``'s producer is flushed
    there, so no offset is committed before the writes of its record are in the
    changelog. Writes are kept per partition, and a send takes every write of its
    partition, its own and any another agent made on that partition meanwhile: a
    write may go out early, never late. Each record has a fresh key (``new_key``), so
    compaction never drops one. Like Faust after its own sends, ``persist`` records in
    the local store up to which changelog offset it holds everything, so a restart
    restores only what came after; unlike Faust, only while this writer's own records
    follow each other without a gap from where the last restore left the store (see
    ``persist``)."""

    def __init__(
        self,
        table: TableWrittenPerRecord,
        *,
        encode: Callable[[Sequence[Write]], bytes],
        new_key: Callable[[], bytes],
        send: SendChangelog,
        hold_writes: int = 1,
    ) -> None:
        self.table = table
        self.encode = encode
        self.new_key = new_key
        self.send = send
        #: Keys a partition holds before ``end_record`` sends them (1: every record's).
        self.hold_writes = hold_writes
        self._written: dict[int, dict[bytes, bytes | None]] = {}

    def _partition(self) -> int:
        partition = self._event_partition()
        if partition is None:
            raise RuntimeError(f"{self.table.name} is written outside of an agent's event")
        return partition

    @staticmethod
    def _event_partition() -> int | None:
        event = current_event()
        return None if event is None else int(event.message.partition)

    @cached_property
    def _open_database(self) -> Callable[[int], Any] | None:
        """How to open a partition's local database, to read and write it directly as
        Faust's RocksDB store does within an event (``Store._get``, ``Store._set``):
        its path around them (the key and value serializers, an index of keys behind a
        lock, the current event looked up again) cost about twice the database's own
        get and put on every signature (docs/benchmarks.md, 2026-12-07, night). None
        for a table whose store reads another partition than the event's (global, or
        by partitioner) or keeps no database per partition (``memory://``): Faust's
        path then. Looked up once the store exists (Faust makes it on first use)."""
        if self.table.is_global or self.table.use_partitioner:
            return None
        return getattr(self.table.data, "_db_for_partition", None)

    def _database(self, partition: int | None) -> Any | None:
        """The event's partition's database, or None (outside an event, or no direct
        path: ``_open_database``)."""
        open_database = self._open_database
        return None if partition is None or open_database is None else open_database(partition)

    def __getitem__(self, key: bytes) -> bytes:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def get(self, key: bytes, default: Any = None) -> Any:
        database = self._database(self._event_partition())
        if database is not None:
            value = database.get(key)
            return default if value is None else value
        try:
            return self.table.data[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return self.get(key) is not None  # type: ignore[arg-type]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        partition = self._partition()
        database = self._database(partition)
        if database is not None:
            database.put(key, value)
        else:
            self.table.data[key] = value
        self._written.setdefault(partition, {})[key] = value

    def __delitem__(self, key: bytes) -> None:
        del self.table.data[key]
        self._written.setdefault(self._partition(), {})[key] = None

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.table.data)

    def __len__(self) -> int:
        return len(self.table.data)

    def unsent(self, partition: int) -> int:
        """How many keys written on ``partition`` wait to be sent."""
        return len(self._written.get(partition, ()))

    @property
    def changelog(self) -> str:
        """The name of the table's changelog topic."""
        return str(self.table.changelog_topic.get_topic_name())

    def end_record(self, partition: int) -> None:
        """An input record of ``partition`` was handled: send what was written on it
        as one changelog record once that is ``hold_writes`` keys or more (none if
        nothing was written); ``send_held`` sends the rest."""
        if self.unsent(partition) >= self.hold_writes:
            self._send(partition)

    def send_held(self) -> None:
        """Send what every partition holds, one changelog record each: before every
        commit (and so before a rebalance hands a partition over)."""
        for partition in list(self._written):
            self._send(partition)

    def _send(self, partition: int) -> None:
        written = self._written.pop(partition, None)
        if written:
            encoded = self.encode(list(written.items()))
            self.send(self.changelog, partition, self.new_key(), encoded)

    def persist(self, delivered: dict[int, Sequence[int]]) -> None:
        """Kafka took this writer's changelog records at ``delivered`` (offsets per
        partition): record how far the store holds the changelog, as Faust does
        after its own sends (``Collection._on_changelog_sent``), but only through
        records that follow each other from where the last restore left the store
        (``ContiguousOffsets``)."""
        for partition, offsets in delivered.items():
            self.table.offsets.advance(partition, offsets)


class TableMergedOnRestore(_RestoredTable):
    """A Faust table whose restore merges each changelog value into the one the store
    holds (``merge(stored, restored)``), so a late record restored after newer ones
    does not set an entry back; and that records how far its store holds the
    changelog only through its own sends that follow each other (``ContiguousOffsets``,
    in place of Faust's ``_on_changelog_sent``)."""

    def __init__(self, app: faust.App, *, merge: Callable[[Any, Any], Any], **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.merge = merge

    def _on_changelog_sent(self, fut: Any) -> None:
        """Faust's callback after each of this table's changelog sends (in order per
        partition), which would record every offset sent."""
        sent = fut.result()
        self.offsets.advance(sent.topic_partition.partition, [sent.offset])

    def apply_changelog_batch(self, batch: Iterable[Any]) -> None:
        super().apply_changelog_batch(list(self._merged(batch)))

    def _merged(self, batch: Iterable[Any]) -> Iterator[Any]:
        serializers = self.app.serializers
        latest: dict[bytes, Any] = {}  # the batch's own values, not stored yet
        for event in batch:
            message = event.message
            if message.value is None:
                latest[message.key] = None
                yield event
                continue
            key = serializers.loads_key(self.key_type, message.key, serializer=self.key_serializer)
            restored = serializers.loads_value(
                self.value_type, message.value, serializer=self.value_serializer
            )
            stored = latest[message.key] if message.key in latest else self.data.get(key)
            value = restored if stored is None else self.merge(stored, restored)
            latest[message.key] = value
            raw = serializers.dumps_value(self.value_type, value, serializer=self.value_serializer)
            yield _Written(message, message.key, raw)


def table_merged_on_restore(app: faust.App, name: str, **options: Any) -> TableMergedOnRestore:
    """Define a ``TableMergedOnRestore`` on ``app``, as ``app.Table`` defines a table."""
    table = TableMergedOnRestore(app, name=name, beacon=app.tables.beacon, **options)
    app.tables.add(table)
    return table
