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
* ``EngineApp._new_consumer`` also makes aiokafka's fetches wait at most
  ``FETCH_MAX_WAIT_MS`` at the broker (Faust hard-codes 1,500 ms): aiokafka keeps one
  fetch in flight per broker, so a partition whose buffered records were just handed
  over waited for the fetch of the others to come back empty, up to 1.5 s, before it
  was fetched again. And a fetch waits for ``FETCH_MIN_BYTES`` (aiokafka asks for 1):
  once records are delivered eagerly (below), a busy worker fetched as fast as its
  consumer thread could loop, a few records each time (``set_fetch_limits``).
* ``serve_partitions_in_turn`` makes aiokafka hand over its buffered partitions in
  turn: it returned them in the order they were fetched, so with the app's
  ``broker_max_poll_records`` a backlog of signatures.submitted kept the records sent
  home and the partial counts waiting until the whole backlog was handled (the counts
  did not move for seconds under load; ``bench.phases`` shows it).
* ``EngineApp._new_producer`` makes the flush Faust runs before every offset commit
  run ``before_commit`` too: the worker's own output producer is flushed there
  (``streams.worker.outputs``), so no offset is committed past an undelivered output.
* ``TableWrittenPerRecord`` and ``WritesPerRecord`` write a table through its local
  store and send its changelog one record per input record (``schemas.writes``)
  instead of one per key; restoring expands those records back into their writes.
  ``TableMergedOnRestore`` merges each restored value into the stored one. Both
  record how far their store holds the changelog only through their own records
  that follow each other (``ContiguousOffsets``), and Faust's end of a restore
  (``on_recovery_completed``) tells them where that starts (``engine.tables``).
* ``deliver_eagerly`` (``engine.delivery``) starts the delivery of each record to the
  agents' queues at once, inside Faust's consumer loop, instead of the four tasks and
  the turns of the event loop of ``wait_first``: at one signature a record the worker
  spent a quarter less CPU per signature, and behind a backlog of batches the records
  sent home and the partial counts no longer waited seconds for their turn.
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
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import Any, cast

import faust
import mode.loop
from aiokafka.consumer.fetcher import Fetcher, PartitionRecords
from faust.streams import _current_event
from faust.types import TP
from faust.types.auth import CredentialsT
from faust.types.tuples import Message

from streams.core.errors import CountersignError
from streams.core.kafka_security import KafkaSecuritySettings, ssl_context
from streams.worker.engine.delivery import deliver_eagerly

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


#: How long a fetch of the worker's consumer may wait at the broker for records: the
#: longest a partition handed over waits to be fetched again (``set_fetch_limits``).
#: 1,500 ms (Faust's) to 100: 0.9 s less from the last signature judged to exact
#: counts (docs/benchmarks.md, 2026-12-07); to 50 with ``FETCH_MIN_BYTES``, so that a
#: quiet pipeline's records wait at most 50 ms per hop. An idle worker asks 20 times a
#: second.
FETCH_MAX_WAIT_MS = 50
#: How many bytes a fetch waits for (within ``FETCH_MAX_WAIT_MS``). Measured with
#: eager delivery (docs/benchmarks.md, 2026-12-07, night): at 1,000 signatures/s
#: through the intake the worker used 0.23 cores instead of 0.28, for 46 ms more
#: submit-to-visible at the median and 23 ms at p99; at 50 signatures a record, 129
#: and 136 µs of worker CPU per signature instead of 170.
FETCH_MIN_BYTES = 64 * 1024


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
            "count exactly (streams/worker/engine/), so it does not start. Install the "
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


def to_the_back(buffered: dict[Any, Any], served: Iterable[Any]) -> None:
    """Move the ``served`` partitions' entries to the end of ``buffered`` (kept in the
    order they are served next), so that the others come first next time."""
    for tp in served:
        if tp in buffered:
            buffered[tp] = buffered.pop(tp)


def serve_partitions_in_turn() -> None:
    """Make aiokafka's ``Fetcher.fetched_records`` serve its buffered partitions in
    turn (once per process): it takes records from ``Fetcher._records`` in its order,
    up to ``max_records``, so the partitions served go to the back after each call."""
    fetcher_class: Any = Fetcher
    if getattr(fetcher_class, "_countersign_in_turn", False):
        return
    fetched_records = fetcher_class.fetched_records

    async def fetched_records_in_turn(self: Any, *args: Any, **kwargs: Any) -> Any:
        drained = await fetched_records(self, *args, **kwargs)
        to_the_back(self._records, drained)
        return drained

    fetched_records_in_turn.__wrapped__ = fetched_records  # type: ignore[attr-defined]
    fetcher_class.fetched_records = fetched_records_in_turn
    fetcher_class._countersign_in_turn = True


class EngineApp(faust.App):
    """``faust.App`` with the seam's three overrides."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        end_batches_at_unreadable_headers()
        serve_partitions_in_turn()
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
        set_fetch_limits(consumer, FETCH_MAX_WAIT_MS, FETCH_MIN_BYTES)
        deliver_eagerly(consumer)
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


def set_fetch_limits(consumer: Any, max_wait_ms: int, min_bytes: int) -> None:
    """Make the aiokafka consumer that Faust's consumer thread builds (when it starts)
    wait at the broker per fetch for ``min_bytes``, at most ``max_wait_ms``: aiokafka
    passes both to its fetcher in ``start``, after the thread built it."""
    thread = consumer._thread  # Faust's AIOKafkaConsumerThread
    build = thread._create_worker_consumer

    def build_waiting_less(transport: Any) -> Any:
        built = build(transport)
        built._fetch_max_wait_ms = max_wait_ms
        built._fetch_min_bytes = min_bytes
        return built

    thread._create_worker_consumer = build_waiting_less


def mark_handled(app: faust.App) -> Callable[[Any, int, int], Awaitable[None]]:
    """Record offsets ``[start, end)`` as a gap in Faust's acknowledgements, the way
    Faust records offsets it knows hold nothing to handle (``Consumer._add_gap``, used
    by its fetcher): its commit then passes them once the records around them are
    acknowledged. Without it the commit of the partition would stop at the hole."""

    async def mark(tp: Any, start: int, end: int) -> None:
        consumer: Any = app.consumer  # ConsumerT does not declare the private method
        await consumer._add_gap(tp, start, end - 1)

    return mark


def settled(app: faust.App) -> bool:
    """Whether the app is neither rebalancing nor restoring its tables: only then does
    every partition it owns have its state, and may be read from the log."""
    return unsettled_by(app) is None


def unready_by(app: faust.App) -> str | None:
    """What keeps the worker from being ready, in words (None: ready): its first
    partition assignment (Faust counts rebalances from 1), the end of a rebalance, or
    its tables' restore (Faust's recovery sets ``completed`` when the streams may
    resume). Until then a record produced is not handled, however healthy the broker."""
    tables: Any = app.tables  # TableManagerT does not declare its recovery service
    if app.rebalancing_count == 0:
        return "its first partition assignment"
    unsettled = unsettled_by(app)
    if unsettled is not None:
        return unsettled
    if not tables.recovery.completed.is_set():
        return "restoring its tables"
    return None


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
