"""No record skipped: each agent checks that its partitions are read without holes.

The full seed campaign with confirmation (bench/confirmation_seed.py --kill) lost 662
confirmations after a worker's SIGKILL: confirmations that arrived while the worker
was down, on one partition, were never handed to the agent, and the restarted worker
went on from the records after them. Faust resumes fetching stream partitions during
its recovery, before it seeks them to their committed offsets, and drops what it
fetched meanwhile (faust-streaming issues 216 and 221 describe the race); what it
dropped is then behind its read position, and the offsets after it may be committed.

So before an agent handles a record, it checks that every record before it on that
partition was handled: by this agent (the one before it) while it owns the partition,
or, for the first record after the partition was assigned to it, by whoever committed
the group's offset past it. Only then: this worker's own Faust commits past records
it dropped in that race (a confirmation campaign lost 3 of 2,425 confirmations so,
docs/exactly-once.md), so while the agent owns a partition, its own account is the
one trusted, and a revocation (``forget``) makes the committed offset count again.
A hole is allowed only where the log holds no record (a transaction's marker, a
compacted key). A hole that holds records is read from the log, here, and each of its
records is handled, in order, before the record after it: nothing past a hole is
acknowledged before the hole is handled.

Why read the hole here rather than seek the stream back to it: a seek races with
Faust's fetcher as the drop did. A record the fetcher is handing over while the seek
happens sets Faust's read position past the hole again (``Consumer._drain_messages``
sets it after the hand-over), and the records read again are dropped as old; on a
busy worker the fetcher is always handing something over. A first version did seek,
and a loaded CI run stalled on it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from streams.core import kafka
from streams.core.logscan import LogRange, LogRecord, scan
from streams.core.settings import Settings

log = logging.getLogger(__name__)

#: ``(topic, partition)``.
Partition = tuple[str, int]
#: Records of a hole read from the log at once (a hole after a long outage is large).
HOLE_CHUNK = 5_000


def unhandled_before(offset: int, expected: int | None, committed: int | None) -> int | None:
    """Where the records before ``offset`` stop being accounted for, or None when all
    are: ``expected`` is the offset after the last record this agent handled on the
    partition since it was assigned (None: none yet), ``committed`` the group's
    committed offset (None: none, so the log's start). The committed offset speaks
    only for a partition this agent has handled nothing of: past that, it may be this
    worker's own commit over records Faust dropped."""
    if expected is not None:
        return None if offset <= expected else expected  # the next one, or a hole
    start = committed or 0
    return None if offset <= start else start


@dataclass(frozen=True, kw_only=True)
class MissedRecord(LogRecord):
    """A record of a hole, read from the log, with its topic: what an agent reads of
    a Faust message (``timestamp`` is in seconds, as Faust's)."""

    topic: str


#: ``read_log(topic, partition, start, end)``: at most ``HOLE_CHUNK`` records of
#: ``[start, end)``, in offset order.
ReadLog = Callable[[str, int, int, int], list[MissedRecord]]
#: ``handled(tp, start, end)``: tells Faust that offsets ``[start, end)`` were handled.
MarkHandled = Callable[[Any, int, int], Awaitable[None]]


class ContinuityGuard:
    """One agent's record of where it is on each partition."""

    def __init__(
        self,
        settings: Settings,
        committed: Callable[[str, int], int | None],
        mark_handled: MarkHandled,
        read_log: ReadLog | None = None,
        log_end: Callable[[str, int], int] | None = None,
    ) -> None:
        self.settings = settings
        self.committed = committed
        self.mark_handled = mark_handled
        self.read_log = read_log or self._read_log
        #: The offset after a partition's last record (its high watermark).
        self.log_end = log_end or self._log_end
        self._reader: Consumer | None = None
        #: Per partition, its log end at the last tail check (``handle_tail``).
        self.ends_seen: dict[Partition, int] = {}
        #: Per partition, the offset after the last record handled.
        self.expected: dict[Partition, int] = {}
        #: Partitions on which Faust is handing over records handled already.
        self._skipping: set[Partition] = set()

    def forget(self, partitions: Iterable[Partition]) -> None:
        """These partitions were revoked: whoever owns them next commits what it
        handles, so when one comes back its committed offset counts again."""
        for where in partitions:
            self.expected.pop(where, None)
            self.ends_seen.pop(where, None)
            self._skipping.discard(where)

    async def handle_missed(self, message: Any, handle: Callable[[Any], Awaitable[None]]) -> bool:
        """Handle, in order, the records before ``message`` on its partition that were
        never handed to this agent; call before handling ``message`` itself. False when
        ``message`` itself was handled already since the partition was assigned (from
        the log by a tail check, or handed over twice after a seek): it is then only
        acknowledged. Seen on a slow disk: the tail check took a start's first records
        from the log after 10 s with nothing handed over, and Faust handed all of them
        over a moment later (240 verdicts produced twice, in a run without a crash)."""
        where = (message.topic, message.partition)
        expected = self.expected.get(where)
        if expected is not None and message.offset < expected:
            if where not in self._skipping:
                self._skipping.add(where)
                log.info(
                    "%s[%d]: offset %d and on were handled already (up to %d); not again",
                    message.topic,
                    message.partition,
                    message.offset,
                    expected - 1,
                )
            return False
        self._skipping.discard(where)
        self.expected[where] = message.offset + 1
        if expected is not None and message.offset == expected:
            return True  # the common case: no question for the broker
        committed = await asyncio.to_thread(self.committed, message.topic, message.partition)
        start = unhandled_before(message.offset, expected, committed)
        if start is not None:
            await self._handle_hole(
                message.tp, (message.topic, message.partition), start, message.offset, handle
            )
        return True

    async def handle_tail(self, tp: Any, handle: Callable[[Any], Awaitable[None]]) -> None:
        """Handle, in order, the records at the end of a partition that were never
        handed to this agent: no later record will show the hole to ``handle_missed``.
        Seen: after a SIGKILL with every record already produced, the restarted worker
        lost all of three partitions' remaining records in Faust's recovery race
        (faust-streaming issue 596) and sat idle. For an agent that has been idle a
        while, on a partition it owns (``streams.worker.policy``)."""
        where = (tp.topic, tp.partition)
        now_at = await asyncio.to_thread(self.log_end, tp.topic, tp.partition)
        # Only records that were in the log at the previous check, the agent idle all
        # the while: a record produced a moment ago is on its way through Faust (taking
        # it from the log too handled 624 records twice in a run that started idle).
        end, self.ends_seen[where] = self.ends_seen.get(where), now_at
        expected = self.expected.get(where)
        if end is None or (expected is not None and end <= expected):
            return  # the common case: no question for the broker
        committed = await asyncio.to_thread(self.committed, tp.topic, tp.partition)
        start = unhandled_before(end, expected, committed)
        if start is not None:
            await self._handle_hole(tp, where, start, end, handle, when="at the end")
        # Only now: a check that failed half-way is made again from where it started.
        # The committed offset counts only where this agent has handled nothing yet
        # (``unhandled_before``): past that, it may be a commit over dropped records.
        self.expected[where] = max(end, expected if expected is not None else (committed or 0))

    async def _handle_hole(  # noqa: PLR0917
        self,
        tp: Any,
        where: Partition,
        start: int,
        end: int,
        handle: Callable[[Any], Awaitable[None]],
        when: str = "first",
    ) -> None:
        """Handle the records of ``[start, end)`` of partition ``where`` from the log,
        in order; then tell Faust (``tp``: its name of the partition) they are done."""
        topic, partition = where
        missed, position = 0, start
        while position < end:
            records = await asyncio.to_thread(self.read_log, topic, partition, position, end)
            if not records:
                break
            if missed == 0:
                log.warning(
                    "%s[%d]: the records from offset %d to %d were never handed to this "
                    "agent (a commit past them does not count); handling them from the log %s",
                    topic,
                    partition,
                    start,
                    end - 1,
                    when,
                )
            for record in records:
                await handle(record)
            missed += len(records)
            position = records[-1].offset + 1
        if missed == 0:
            log.info(
                "%s[%d]: no record at offsets %d to %d (transaction markers or compaction)",
                topic,
                partition,
                start,
                end - 1,
            )
        # Faust's commit waits for these offsets to be acknowledged, and it never
        # handed them over to be: tell it they are done.
        await self.mark_handled(tp, start, end)

    def _log_end(self, topic: str, partition: int) -> int:
        if self._reader is None:  # a consumer that never joins its group: offsets only
            self._reader = kafka.consumer(self.settings, self.settings.group_id("tail-check"))
        try:
            return kafka.watermarks(self._reader, TopicPartition(topic, partition), timeout=30)[1]
        except KafkaException:
            # Made again for the next check: after a broker's restart in the chaos test,
            # one such client answered "unknown partition" for every check, minutes on,
            # and the records at the end of that partition were never handled.
            reader, self._reader = self._reader, None
            reader.close()
            raise

    def _read_log(self, topic: str, partition: int, start: int, end: int) -> list[MissedRecord]:
        records = scan(self.settings, LogRange(topic, {partition: (start, end)}))
        try:
            return [MissedRecord(topic=topic, **vars(r)) for r in islice(records, HOLE_CHUNK)]
        finally:
            records.close()


def broker_committed(settings: Settings, group: str) -> Callable[[str, int], int | None]:
    """The group's committed offset of a partition, asked of the broker. Not the
    Faust consumer's own idea of it: the race this guard is for hands records over
    before Faust has read the committed offsets (``Consumer.perform_seek``).

    Asked through a consumer of the group that never joins it, not an admin client:
    librdkafka (2.16) dereferences the client's group handle when an OffsetFetch finds
    the coordinator gone, and an admin client has none. It crashed two workers
    (SIGSEGV) when the chaos test killed a broker (tests/e2e/test_chaos.py;
    confluentinc/librdkafka#5315)."""
    readers = [kafka.consumer(settings, group_id=group)]
    one_at_a_time = threading.Lock()  # called from asyncio.to_thread's threads

    def committed(topic: str, partition: int) -> int | None:
        with one_at_a_time:
            try:
                (answer,) = readers[0].committed([TopicPartition(topic, partition)], timeout=30)
                if answer.error is not None:
                    raise KafkaException(answer.error)
            except KafkaException:
                # Made again for the next question, as the tail check's client is
                # (``ContinuityGuard._log_end``): one can stay stale after a broker's
                # restart.
                readers[0].close()
                readers[0] = kafka.consumer(settings, group_id=group)
                raise
        return int(answer.offset) if answer.offset >= 0 else None

    return committed
