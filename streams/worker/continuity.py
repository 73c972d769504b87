"""No record skipped: each agent checks that its partitions are read without holes.

The full seed campaign with confirmation (bench/confirmation_seed.py --kill) lost 662
confirmations after a worker's SIGKILL: confirmations that arrived while the worker
was down, on one partition, were never handed to the agent, and the restarted worker
went on from the records after them. Faust resumes fetching stream partitions during
its recovery, before it seeks them to their committed offsets, and drops what it
fetched meanwhile (faust-streaming issues 216 and 221 describe the race); what it
dropped is then behind its read position, and the offsets after it may be committed.

So before an agent handles a record, it checks that every record before it on that
partition was handled: by this agent (the one before it), or by whoever committed the
group's offset past it. A hole is allowed only where the log holds no record (a
transaction's marker, a compacted key): the log is read to tell. A hole that holds
records is read again: the guard seeks the partition back to its start, and the
records fetched before the seek are passed over unacknowledged (they come again
after the hole), so nothing past the hole is acknowledged before the hole is handled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

from streams.core import kafka
from streams.core.logscan import LogRange, scan
from streams.core.settings import Settings

log = logging.getLogger(__name__)

#: ``(topic, partition)``.
Partition = tuple[str, int]
#: How long records fetched before a seek back may keep coming before the guard
#: seeks again (the seek did not take: a rebalance came between).
REWIND_PATIENCE_SECONDS = 30.0


def unhandled_before(offset: int, expected: int | None, committed: int | None) -> int | None:
    """Where the records before ``offset`` stop being accounted for, or None when all
    are: ``expected`` is the offset after the last record this agent handled on the
    partition (None: none yet), ``committed`` the group's committed offset (None:
    none, so the log's start)."""
    if expected is not None and offset <= expected:
        return None  # the next one, or one read again after a seek back
    start = committed or 0
    if expected is not None:
        start = max(start, expected)
    return None if offset <= start else start


class ContinuityGuard:
    """One agent's record of where it is on each partition."""

    def __init__(
        self,
        settings: Settings,
        committed: Callable[[str, int], int | None],
        seek: Callable[[Any, int], Awaitable[None]],
        holds_records: Callable[[str, int, int, int], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.committed = committed
        self.seek = seek
        self.holds_records = holds_records or self._holds_records
        #: Per partition, the offset after the last record handled (or the start of a
        #: hole being read again).
        self.expected: dict[Partition, int] = {}
        #: Partitions sought back to a hole, and since when (monotonic seconds).
        self.rewinding: dict[Partition, float] = {}

    async def admit(self, message: Any) -> bool:
        """Whether the agent may handle ``message`` now. False when records before
        it were never handed over: the partition is sought back to them, and
        ``message`` comes again after them."""
        where = (message.topic, message.partition)
        rewound_at = self.rewinding.get(where)
        if rewound_at is not None:
            if message.offset <= self.expected[where]:
                del self.rewinding[where]  # the hole's first record: read again
            elif time.monotonic() - rewound_at < REWIND_PATIENCE_SECONDS:
                return False  # fetched before the seek; it comes again
        expected = self.expected.get(where)
        if expected is not None and message.offset <= expected:
            self.expected[where] = message.offset + 1
            return True  # the common case: no question for the broker
        committed = await asyncio.to_thread(self.committed, message.topic, message.partition)
        start = unhandled_before(message.offset, expected, committed)
        if start is not None and await asyncio.to_thread(
            self.holds_records, message.topic, message.partition, start, message.offset
        ):
            log.warning(
                "%s[%d]: the records at offsets %d to %d were never handed to this agent, "
                "and nobody committed them; reading them again",
                message.topic,
                message.partition,
                start,
                message.offset - 1,
            )
            await self.seek(message.tp, start)
            self.expected[where] = start
            self.rewinding[where] = time.monotonic()
            return False
        if start is not None:
            log.info(
                "%s[%d]: no record at offsets %d to %d (transaction markers or compaction)",
                message.topic,
                message.partition,
                start,
                message.offset - 1,
            )
        self.expected[where] = message.offset + 1
        return True

    def _holds_records(self, topic: str, partition: int, start: int, end: int) -> bool:
        """Whether the log holds a record at an offset in ``[start, end)``."""
        records = scan(self.settings, LogRange(topic, {partition: (start, end)}))
        try:
            return next(records, None) is not None
        finally:
            records.close()


def broker_committed(settings: Settings, group: str) -> Callable[[str, int], int | None]:
    """The group's committed offset of a partition, asked of the broker. Not the
    Faust consumer's own idea of it: the race this guard is for hands records over
    before Faust has read the committed offsets (``Consumer.perform_seek``)."""
    admin = kafka.admin_client(settings)

    def committed(topic: str, partition: int) -> int | None:
        request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, partition)])
        answer = admin.list_consumer_group_offsets([request], request_timeout=30)[group]
        offset = int(answer.result(timeout=30).topic_partitions[0].offset)
        return offset if offset >= 0 else None

    return committed


def faust_seek(app: Any) -> Callable[[Any, int], Awaitable[None]]:
    """Faust's seek of one partition: the consumer reads from ``offset`` again and
    takes records from there (``Consumer.seek`` resets its read offset too)."""

    async def seek(tp: Any, offset: int) -> None:
        await app.consumer.seek(tp, offset)

    return seek
