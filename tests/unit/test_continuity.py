"""An agent's partitions are read without holes: which records before a message are
not accounted for (``unhandled_before``), and what the guard does about them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from faust.types import TP

from streams.core.settings import Settings
from streams.worker.continuity import ContinuityGuard, MissedRecord, unhandled_before


def test_the_next_record_in_line_is_accounted_for() -> None:
    assert unhandled_before(41, expected=41, committed=30) is None


def test_a_record_handed_over_again_is_accounted_for() -> None:
    assert unhandled_before(35, expected=41, committed=30) is None


def test_the_first_record_after_a_start_at_the_committed_offset_is_accounted_for() -> None:
    assert unhandled_before(30, expected=None, committed=30) is None


def test_the_first_record_after_a_start_past_the_committed_offset_leaves_a_hole() -> None:
    assert unhandled_before(36, expected=None, committed=30) == 30


def test_a_jump_past_the_next_record_leaves_a_hole_from_it() -> None:
    assert unhandled_before(50, expected=41, committed=30) == 41


def test_a_commit_past_records_this_agent_never_handled_does_not_account_for_them() -> None:
    # Faust's own commit passes records it dropped in its start-up race: from the
    # first record after the last one handled, they are read from the log.
    assert unhandled_before(171, expected=168, committed=171) == 168


def test_for_a_partition_just_assigned_the_committed_offset_accounts_for_the_records() -> None:
    # Another worker handled and committed them; this agent has handled nothing since.
    assert unhandled_before(60, expected=None, committed=60) is None


def test_without_a_committed_offset_the_hole_starts_at_the_log_start() -> None:
    assert unhandled_before(7, expected=None, committed=None) == 0
    assert unhandled_before(0, expected=None, committed=None) is None


@dataclass
class Message:
    topic: str
    partition: int
    offset: int

    @property
    def tp(self) -> tuple[str, int]:
        return (self.topic, self.partition)


class Log:
    """Partition t[1] as the guard reads it: records at ``offsets``, ``chunk`` at a time."""

    def __init__(self, offsets: list[int], chunk: int = 1000) -> None:
        self.offsets = offsets
        self.chunk = chunk
        #: The offset after the last record (the high watermark).
        self.end = max(offsets, default=-1) + 1
        self.reads: list[tuple[int, int]] = []

    def read(self, topic: str, partition: int, start: int, end: int) -> list[MissedRecord]:
        self.reads.append((start, end))
        held = [o for o in self.offsets if start <= o < end][: self.chunk]
        return [
            MissedRecord(
                topic=topic, partition=partition, offset=o, timestamp=None, key=None, value=b"v"
            )
            for o in held
        ]


class Agent:
    """The guard in front of a handler that writes down what it handled, and what
    was reported to Faust as handled without being handed over."""

    def __init__(self, committed: int | None, log: Log) -> None:
        self.handled: list[int] = []
        self.marked: list[tuple[Any, int, int]] = []
        self.asked = 0
        #: The group's committed offset as the broker would answer now.
        self.committed = committed

        def committed_offset(_topic: str, _partition: int) -> int | None:
            self.asked += 1
            return self.committed

        async def mark(tp: Any, start: int, end: int) -> None:
            self.marked.append((tp, start, end))

        self.guard = ContinuityGuard(
            Settings(), committed_offset, mark, log.read, lambda _t, _p: log.end
        )

    def receive(self, *offsets: int) -> list[int]:
        """Hand ``offsets`` of t[1] over in this order; what was handled, in order."""

        async def handle(message: Any) -> None:
            self.handled.append(message.offset)

        async def run() -> None:
            for offset in offsets:
                message = Message("t", 1, offset)
                if await self.guard.handle_missed(message, handle):
                    await handle(message)

        asyncio.run(run())
        return self.handled

    def idle(self) -> list[int]:
        """Nothing more is handed over: what the tail check handles, in order."""

        async def handle(message: Any) -> None:
            self.handled.append(message.offset)

        before = len(self.handled)
        asyncio.run(self.guard.handle_tail(TP("t", 1), handle))  # notes the log's end
        asyncio.run(self.guard.handle_tail(TP("t", 1), handle))  # takes what stayed
        return self.handled[before:]


def test_records_never_handed_over_are_handled_from_the_log_before_the_next_one() -> None:
    # Committed at 30; after a restart the consumer hands over 36 first.
    agent = Agent(30, Log(list(range(0, 40))))
    assert agent.receive(36, 37) == [30, 31, 32, 33, 34, 35, 36, 37]
    assert agent.marked == [(("t", 1), 30, 36)]


def test_records_this_workers_own_commit_passed_unhandled_are_handled_from_the_log() -> None:
    # Seen after a SIGKILL: Faust hands over 167 first, drops 168-170 it fetched
    # before its seek, and its own commit passes them; then it hands over 171.
    agent = Agent(50, Log(list(range(0, 200))))
    agent.receive(167)
    agent.committed = 171
    assert agent.receive(171)[-4:] == [168, 169, 170, 171]


def test_after_a_revocation_the_committed_offset_accounts_for_the_records_again() -> None:
    agent = Agent(30, Log(list(range(0, 100))))
    agent.receive(30, 31)
    agent.guard.forget([("t", 1)])  # another worker owned it meanwhile, to 60
    agent.committed = 60
    assert agent.receive(60)[-1:] == [60] and agent.handled.count(59) == 0


def test_a_large_hole_is_read_in_chunks_in_order() -> None:
    log = Log(list(range(0, 100)), chunk=4)
    agent = Agent(0, log)
    assert agent.receive(10) == list(range(0, 11))
    assert log.reads == [(0, 10), (4, 10), (8, 10)]


def test_a_hole_without_records_is_passed_and_the_agent_goes_on_from_there() -> None:
    log = Log([32, 33, 34])  # 30 and 31 hold transaction markers
    agent = Agent(30, log)
    assert agent.receive(32, 33, 34) == [32, 33, 34]
    # The broker and the log were asked once, for the one hole; then never again.
    assert (agent.asked, log.reads) == (1, [(30, 32)])
    assert agent.marked == [(("t", 1), 30, 32)]


def test_a_record_after_the_next_in_line_opens_a_hole_from_the_next() -> None:
    agent = Agent(30, Log(list(range(0, 60))))
    assert agent.receive(30, 31, 35) == [30, 31, 32, 33, 34, 35]


def test_records_handed_over_again_are_not_handled_again_and_open_no_hole() -> None:
    log = Log(list(range(0, 60)))
    agent = Agent(30, log)
    assert agent.receive(30, 31, 32, 31, 32, 33) == [30, 31, 32, 33]
    assert log.reads == [] and agent.asked == 1


def test_records_the_tail_check_handled_are_not_handled_again_when_faust_hands_them_over() -> None:
    # Seen on a slow disk: nothing handed over for 10 s after a start, so the tail
    # check took 0 to 7 from the log; then Faust handed them over all the same.
    agent = Agent(None, Log(list(range(0, 8))))
    assert agent.idle() == list(range(0, 8))
    assert agent.receive(0, 1, 2, 3, 4, 5, 6, 7) == list(range(0, 8))
    assert agent.receive(8) == [*range(0, 8), 8]  # and the next is handled as usual


def test_after_a_revocation_records_handed_over_again_are_handled() -> None:
    agent = Agent(30, Log(list(range(0, 60))))
    agent.receive(30, 31, 32)
    agent.guard.forget([("t", 1)])
    assert agent.receive(30, 31) == [30, 31, 32, 30, 31]


def test_records_at_the_end_that_nothing_revealed_are_handled_when_the_agent_is_idle() -> None:
    # Committed at 9; the restarted worker lost 9 to 30 in Faust's recovery race, and
    # no record after them will ever arrive to open the hole.
    agent = Agent(9, Log(list(range(0, 31))))
    assert agent.idle() == list(range(9, 31))
    assert agent.marked == [(TP("t", 1), 9, 31)]
    assert agent.idle() == []  # handled once: the next check has nothing to do


def test_the_tail_after_what_the_agent_handled_is_handled_from_there() -> None:
    agent = Agent(0, Log(list(range(0, 20))))
    agent.receive(0, 1, 2)
    assert agent.idle() == list(range(3, 20))


def test_an_agent_that_handled_everything_asks_the_broker_nothing_when_idle() -> None:
    agent = Agent(0, Log(list(range(0, 5))))
    agent.receive(0, 1, 2, 3, 4)
    asked = agent.asked
    assert agent.idle() == []
    assert agent.asked == asked


def test_a_tail_check_that_failed_half_way_is_made_again_from_where_it_started() -> None:
    log = Log(list(range(0, 12)), chunk=4)
    agent = Agent(0, log)
    reads = log.read

    def fails_on_the_second_chunk(topic: str, partition: int, start: int, end: int) -> Any:
        if start > 0:
            raise ConnectionError("the broker went away")
        return reads(topic, partition, start, end)

    agent.guard.read_log = fails_on_the_second_chunk
    with pytest.raises(ConnectionError):
        agent.idle()
    assert agent.handled == [0, 1, 2, 3]
    agent.guard.read_log = reads
    assert agent.idle() == list(range(0, 12))  # again, from 0: handled twice is taken


def test_records_the_tail_check_sees_for_the_first_time_are_left_to_faust() -> None:
    """Just produced, they are on their way: only what was already there at the
    previous check, the agent idle since, is taken from the log."""
    log = Log(list(range(0, 10)))
    agent = Agent(0, log)

    async def handle(message: Any) -> None:
        agent.handled.append(message.offset)

    asyncio.run(agent.guard.handle_tail(TP("t", 1), handle))
    assert agent.handled == []
    log.offsets, log.end = list(range(0, 15)), 15  # five more arrive meanwhile
    asyncio.run(agent.guard.handle_tail(TP("t", 1), handle))
    assert agent.handled == list(range(0, 10))
