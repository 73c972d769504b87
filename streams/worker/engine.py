"""The one seam around the stream engine: every use of a Faust, mode or aiokafka
internal lives here, and nowhere else in the worker (an import-linter contract keeps
the other worker modules off those packages).

Exactness leans on what these hooks do, so the worker refuses to start on versions
they were not tested with (``check_versions``), ``pyproject.toml`` pins the same
ranges (a unit test compares them), and each hook has a test that fails when the
engine changes under it (``tests/unit/test_engine_seam.py``,
``test_continuity_faust.py``, ``test_rewind_uncommitted.py``).

The hooks, and why each exists:

* ``EngineApp.on_init_dependencies`` drops Faust's Monitor (~10 % of the event loop
  for web views that are off); ``inbound_times`` then keeps the one map of it that
  Faust's consumer still reads.
* ``EngineApp._new_consumer`` makes a stream partition nobody committed read from its
  start after a rebalance (``rewind_uncommitted``).
* ``mark_handled`` records offsets the continuity guard handled from the log as done
  (``Consumer._add_gap``), so Faust's commit passes them.
* ``EngineApp._new_producer`` makes the flush Faust runs before every offset commit
  run ``before_commit`` too: the worker's own output producer is flushed there
  (``streams.worker.outputs``), so no offset is committed past an undelivered output.
* ``TableWrittenPerRecord`` and ``WritesPerRecord`` write a table through its local
  store and send its changelog one record per input record (``schemas.writes``)
  instead of one per key; restoring expands those records back into their writes.
* ``end_batches_at_unreadable_headers`` stops aiokafka's fetcher from failing on a
  record whose header name is no UTF-8 (its C reader decodes names strictly, before our
  code sees the record, and the worker stopped at every restart): the batch ends there,
  and the continuity guard reads the rest of it from the log with confluent-kafka,
  which gives that record without headers (``streams.core.logscan``).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import re
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping, Sequence
from typing import Any, NoReturn, cast

import faust
import mode.loop
from aiokafka.consumer.fetcher import PartitionRecords
from faust import current_event
from faust.streams import _current_event
from faust.types import TP
from faust.types.auth import CredentialsT
from faust.types.tuples import Message

from streams.core.errors import CountersignError
from streams.core.kafka_security import KafkaSecuritySettings, ssl_context

log = logging.getLogger(__name__)

#: The versions the hooks below were written and tested against; ``pyproject.toml``
#: pins the same ranges. A new version is added here after the seam's tests and the
#: kill tests pass on it.
TESTED_WITH: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    # distribution: (lowest tested, first untested)
    "faust-streaming": ((0, 15, 3), (0, 16)),
    "mode-streaming": ((0, 7, 1), (0, 8)),
    "aiokafka": ((0, 14, 0), (0, 15)),
}


class UnsupportedEngine(CountersignError, RuntimeError):
    """An installed Faust, mode or aiokafka that the worker's hooks were not tested with."""


def _release(version: str) -> tuple[int, ...]:
    """``0.15.3`` as (0, 15, 3); a pre-release or local tail (``rc1``, ``+x``) is cut."""
    numbers = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(n) for n in numbers.group().split(".")) if numbers else ()


def _spelled(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def pin(distribution: str) -> str:
    """The requirement ``pyproject.toml`` spells for ``distribution``: ``>=a,<b``."""
    lowest, untested = TESTED_WITH[distribution]
    return f">={_spelled(lowest)},<{_spelled(untested)}"


def check_versions(version: Callable[[str], str] = importlib.metadata.version) -> dict[str, str]:
    """The installed versions of the engine's packages, or ``UnsupportedEngine`` naming
    each one outside its tested range and how to install a tested one."""
    installed: dict[str, str] = {}
    wrong = []
    for distribution, (lowest, untested) in TESTED_WITH.items():
        try:
            installed[distribution] = version(distribution)
        except importlib.metadata.PackageNotFoundError:
            wrong.append(f"{distribution} is not installed (the worker needs {pin(distribution)})")
            continue
        if not lowest <= _release(installed[distribution]) < untested:
            wrong.append(
                f"{distribution} {installed[distribution]} is installed; the worker's hooks "
                f"into it were tested with {pin(distribution)}"
            )
    if wrong:
        raise UnsupportedEngine(
            "; ".join(wrong) + ". The worker relies on internals of these packages to "
            "count exactly (streams/worker/engine.py), so it does not start. Install the "
            "tested versions (make install, or pip install -c constraints.txt -e .), or "
            "test the hooks on the new ones and widen TESTED_WITH there."
        )
    return installed


def use_event_loop(name: str) -> None:
    """Make mode (Faust's service runner) use ``name``'s loop; before the loop exists."""
    mode.loop.use(name)


class _BatchEndingAtUnreadableHeaders:
    """One of aiokafka's record batches, ended early at a record it cannot read."""

    __slots__ = ("_batch", "_tp")

    def __init__(self, batch: Any, tp: Any) -> None:
        self._batch = batch
        self._tp = tp

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def __iter__(self) -> _BatchEndingAtUnreadableHeaders:
        return self

    def __next__(self) -> Any:
        try:
            return next(self._batch)
        except UnicodeDecodeError:
            log.error(
                "%s: a record in offsets %d..%d has a header name that is no UTF-8; the "
                "rest of that batch is read from the log instead (without its headers)",
                self._tp,
                self._batch.base_offset,
                self._batch.next_offset - 1,
            )
            raise StopIteration from None


class _RecordsEndingAtUnreadableHeaders:
    """aiokafka's fetched records, handing out batches that end at an unreadable record."""

    __slots__ = ("_records", "_tp")

    def __init__(self, records: Any, tp: Any) -> None:
        self._records = records
        self._tp = tp

    def __getattr__(self, name: str) -> Any:
        return getattr(self._records, name)

    def next_batch(self) -> Any:
        batch = self._records.next_batch()
        return None if batch is None else _BatchEndingAtUnreadableHeaders(batch, self._tp)


def end_batches_at_unreadable_headers() -> None:
    """Give aiokafka's ``PartitionRecords`` our wrapped records (once per process).

    Its ``_unpack_records`` then moves its fetch position to the end of the cut batch,
    as it does past an aborted one; the records after the cut are behind the agent's
    position and are read by the continuity guard (``streams.worker.continuity``)
    before the next record of that partition is handled, so none is skipped.
    """
    records_class: Any = PartitionRecords
    if getattr(records_class, "_countersign_wrapped", False):
        return
    unwrapped = records_class.__init__

    def init_with_wrapped_records(
        self: Any, tp: Any, records: Any, *args: Any, **kwargs: Any
    ) -> None:
        unwrapped(self, tp, _RecordsEndingAtUnreadableHeaders(records, tp), *args, **kwargs)

    records_class.__init__ = init_with_wrapped_records
    records_class._countersign_wrapped = True


class EngineApp(faust.App):
    """``faust.App`` with the seam's three overrides."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        end_batches_at_unreadable_headers()
        #: Awaited after Faust flushed its producer, before it commits offsets.
        self.before_commit: list[Callable[[], Awaitable[None]]] = []

    def on_init_dependencies(self) -> Any:
        dependencies = super().on_init_dependencies()
        # Faust's Monitor keeps statistics of every event for Faust's own web views,
        # which are off (our Prometheus metrics are served instead); measured at ~10 %
        # of the event loop, so it is not kept.
        self.sensors.remove(self.monitor)
        return dependencies

    def _new_consumer(self) -> Any:
        """Faust's consumer, made to read partitions nobody committed from their start
        after a rebalance, as it reads the others from their commit."""
        consumer = super()._new_consumer()
        rewind_uncommitted(consumer, self.is_stream_topic)
        return consumer

    def _new_producer(self) -> Any:
        """Faust's producer, whose ``flush`` (which Faust awaits right before it
        commits offsets: ``Consumer._commit_offsets``) also awaits ``before_commit``."""
        producer: Any = super()._new_producer()
        faust_flush = producer.flush

        async def flush_then_before_commit() -> None:
            await faust_flush()
            for flush in self.before_commit:
                await flush()

        producer.flush = flush_then_before_commit
        return producer

    def is_stream_topic(self, topic: str) -> bool:
        """A topic some agent reads (a table's changelog is read by Faust's recovery)."""
        return any(topic in getattr(a.channel, "topics", ()) for a in self.agents.values())


def broker_credentials(settings: KafkaSecuritySettings) -> CredentialsT | None:
    """Faust's (aiokafka's) login: the same TLS and SASL settings every confluent-kafka
    client of the worker uses (``streams.core.kafka_security``)."""
    context = ssl_context(settings)
    if settings.kafka_uses_sasl:
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_secret,
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def inbound_times(app: faust.App) -> MutableMapping[Any, float]:
    """The map from which Faust's consumer reports a partition whose stream took no
    event for a while (``stream_processing_timeout``). The Monitor that would keep it
    is off (``EngineApp``), so the agents keep it, or every backlog is reported."""
    times: MutableMapping[Any, float] = app.monitor.stream_inbound_time
    return times


def rewind_uncommitted(consumer: Any, is_stream: Callable[[str], bool]) -> None:
    """Make ``consumer`` (Faust's) seek stream partitions that have no committed offset
    back to their first record whenever it seeks to the committed offsets.

    Faust seeks every partition to its committed offset after a rebalance, to take
    back what it fetched and dropped meanwhile; aiokafka's ``seek_to_committed`` skips
    a partition whose committed offset is none (or 0), so there the drop stands. Seen:
    after a SIGKILL, two partitions of signatures.valid that nobody had committed yet
    were fetched to their end during the restart and never handed over; with no later
    record, the continuity guard never saw the hole (706 verdicts missing for good)."""
    seek_to_committed = consumer.seek_to_committed

    async def seek_to_committed_or_start() -> Any:
        committed = await seek_to_committed()
        uncommitted = [tp for tp, offset in committed.items() if not offset and is_stream(tp.topic)]
        if uncommitted:
            earliest = await consumer.earliest_offsets(*uncommitted)
            # On the consumer's own thread, as Faust's seek to the committed offsets.
            await consumer.seek_wait({tp: earliest[tp] for tp in uncommitted})
            by_topic: dict[str, list[int]] = {}
            for tp in sorted(uncommitted):
                by_topic.setdefault(tp.topic, []).append(tp.partition)
            log.info(
                "read from their start, as no offset of theirs is committed: %s",
                ", ".join(f"{t}{partitions}" for t, partitions in by_topic.items()),
            )
        return committed

    consumer.seek_to_committed = seek_to_committed_or_start


def mark_handled(app: faust.App) -> Callable[[Any, int, int], Awaitable[None]]:
    """Record offsets ``[start, end)`` as a gap in Faust's acknowledgements, the way
    Faust records offsets it knows hold nothing to handle (``Consumer._add_gap``, used
    by its fetcher): its commit then passes them once the records around them are
    acknowledged. Without it the commit of the partition would stop at the hole."""

    async def mark(tp: Any, start: int, end: int) -> None:
        consumer: Any = app.consumer  # ConsumerT does not declare the private method
        await consumer._add_gap(tp, start, end - 1)

    return mark


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


class TableWrittenPerRecord(faust.Table[bytes, bytes]):
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
        #: Called with the active partitions after every restore, before the recover
        #: callbacks and before any stream resumes.
        self.on_restored: list[Callable[[set[int]], None]] = []

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        """Faust's hook after a rebalance's restore: the store of each active partition
        now holds its changelog up to its persisted offset."""
        restored = {tp.partition for tp in active_tps}
        for restored_hook in self.on_restored:
            restored_hook(restored)
        await super().on_recovery_completed(active_tps, standby_tps)

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
    was written; ``end_record`` sends all of it as one changelog record, through
    ``send`` (librdkafka: a few µs, where Faust's aiokafka producer costs ~100).

    Exactness (docs/exactly-once.md): every handler calls ``end_record`` before its
    record is acknowledged, and ``send``'s producer is flushed before every commit, so
    no offset is committed before the writes of its record are in the changelog.
    Writes are kept per partition, and a record's ``end_record`` sends every write of
    its partition, its own and any another agent made on that partition meanwhile: a
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
    ) -> None:
        self.table = table
        self.encode = encode
        self.new_key = new_key
        self.send = send
        self._written: dict[int, dict[bytes, bytes | None]] = {}
        #: Per active partition, the changelog offset up to which the store holds every
        #: record (set by a restore, advanced by ``persist``); none: not known.
        self._complete_to: dict[int, int] = {}
        table.on_restored.append(self._restored)

    def _restored(self, partitions: set[int]) -> None:
        self._complete_to = {}
        for partition in partitions:
            persisted = self.table.data.persisted_offset(TP(self.changelog, partition))
            self._complete_to[partition] = -1 if persisted is None else persisted

    def _partition(self) -> int:
        event = current_event()
        if event is None:
            raise RuntimeError(f"{self.table.name} is written outside of an agent's event")
        return int(event.message.partition)

    def __getitem__(self, key: bytes) -> bytes:
        return self.table.data[key]  # type: ignore[no-any-return]

    def get(self, key: bytes, default: Any = None) -> Any:
        try:
            return self.table.data[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return key in self.table.data

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.table.data[key] = value
        self._written.setdefault(self._partition(), {})[key] = value

    def __delitem__(self, key: bytes) -> None:
        del self.table.data[key]
        self._written.setdefault(self._partition(), {})[key] = None

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.table.data)

    def __len__(self) -> int:
        return len(self.table.data)

    def unsent(self, partition: int) -> int:
        """How many keys written on ``partition`` wait for an ``end_record``."""
        return len(self._written.get(partition, ()))

    @property
    def changelog(self) -> str:
        """The name of the table's changelog topic."""
        return str(self.table.changelog_topic.get_topic_name())

    def end_record(self, partition: int) -> None:
        """Send what was written on ``partition`` as one changelog record (none if
        nothing was)."""
        written = self._written.pop(partition, None)
        if not written:
            return
        self.send(self.changelog, partition, self.new_key(), self.encode(list(written.items())))

    def persist(self, delivered: dict[int, Sequence[int]]) -> None:
        """Record, per partition, how far the local store holds the changelog, given
        the offsets Kafka took of this writer's records: Faust's recovery restores
        only what comes after (``Collection._on_changelog_sent`` does this for
        Faust's own sends).

        The store holds a record of its own (it wrote before it sent), but not one
        another writer appended: a worker paused (SIGSTOP, a long GC) while its last
        record waited in the producer sends it when it wakes, after the records of the
        worker that took its partitions. Recording that offset made its next restore
        skip the other's records, and its counts fell short for good (the chaos test,
        docs/scaling.md). So the offset advances only through this writer's records
        that follow each other from where the last restore left the store; at a gap
        it stops there until the next restore, which reads the rest."""
        for partition, offsets in delivered.items():
            complete = self._complete_to.get(partition)
            if complete is None:
                continue
            reached = complete
            for offset in sorted(offsets):
                if offset == reached + 1:
                    reached = offset
                elif offset > reached:
                    log.warning(
                        "%s[%d] holds records of another writer before offset %d (this "
                        "worker was paused?): its store is not recorded as complete past "
                        "%d, and its next restore reads from there",
                        self.changelog, partition, offset, reached,
                    )  # fmt: skip
                    del self._complete_to[partition]
                    break
            else:
                self._complete_to[partition] = reached
            if reached > complete:
                self.table.data.set_persisted_offset(TP(self.changelog, partition), reached)


def settled(app: faust.App) -> bool:
    """Whether the app is neither rebalancing nor restoring its tables: only then does
    every partition it owns have its state, and may be read from the log."""
    return unsettled_by(app) is None


def unsettled_by(app: faust.App) -> str | None:
    """What keeps the app from being settled (``settled``), in words; None: nothing."""
    tables: Any = app.tables  # TableManagerT does not declare its recovery service
    if app.rebalancing:
        return "a rebalance"
    if tables.recovery.in_recovery:
        return "restoring its tables"
    return None


def on_revoked(app: faust.App, forget: Callable[[list[tuple[str, int]]], None]) -> None:
    """Call ``forget`` with every (topic, partition) a rebalance takes from this worker
    (Faust's ``on_partitions_revoked`` signal, sent before it commits and hands them
    over)."""

    async def revoked(_sender: Any, partitions: Iterable[TP], **_: Any) -> None:
        forget([(tp.topic, tp.partition) for tp in partitions])

    # mode types a receiver as (sender, *args, signal=...): ours takes the one argument
    # Faust sends, the revoked partitions.
    app.on_partitions_revoked.connect(cast(Any, revoked))


def owned(app: faust.App, topics: Iterable[str]) -> list[TP]:
    """The partitions of ``topics`` assigned to this worker now."""
    names = set(topics)
    return sorted(tp for tp in app.consumer.assignment() if tp.topic in names)


def stream_topics(stream: Any) -> tuple[str, ...]:
    """The topics an agent's stream reads."""
    return tuple(getattr(stream.channel, "topics", ()))


@contextlib.contextmanager
def handling_on(app: faust.App, tp: Any) -> Iterator[None]:
    """Within it, Faust takes an event of partition ``tp`` for the one being handled.

    Its RocksDB stores read and write the partition of the current event, and there
    is none when records are handled from the log outside a stream (the tail check of
    ``streams.worker.policy.watch_tails``): the store's ``_set`` asserts one."""
    message = Message(
        tp.topic, tp.partition, -1, 0.0, 0, [], None, None, None, tp=TP(tp.topic, tp.partition)
    )
    event = app.create_event(None, None, [], message)
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)
