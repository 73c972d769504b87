"""An agent's partitions are read without holes: which records before a message are
not accounted for (``unhandled_before``), and what the guard does about them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from streams.core.settings import Settings
from streams.worker.continuity import ContinuityGuard, unhandled_before


def test_the_next_record_in_line_is_accounted_for() -> None:
    assert unhandled_before(41, expected=41, committed=30) is None


def test_a_record_read_again_after_a_seek_back_is_accounted_for() -> None:
    assert unhandled_before(35, expected=41, committed=30) is None


def test_the_first_record_after_a_start_at_the_committed_offset_is_accounted_for() -> None:
    assert unhandled_before(30, expected=None, committed=30) is None


def test_the_first_record_after_a_start_past_the_committed_offset_leaves_a_hole() -> None:
    assert unhandled_before(36, expected=None, committed=30) == 30


def test_a_jump_past_the_next_record_leaves_a_hole_from_it() -> None:
    assert unhandled_before(50, expected=41, committed=30) == 41


def test_records_another_worker_committed_are_accounted_for() -> None:
    assert unhandled_before(60, expected=41, committed=60) is None


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


class Consumer:
    """What the guard asks of a consumer, written down: the seeks."""

    def __init__(self) -> None:
        self.seeks: list[tuple[Any, int]] = []

    async def seek(self, tp: Any, offset: int) -> None:
        self.seeks.append((tp, offset))


def guard(
    committed: int | None, log_holds: bool, asked: list[Any], consumer: Consumer
) -> ContinuityGuard:
    def holds_records(topic: str, partition: int, start: int, end: int) -> bool:
        asked.append((topic, partition, start, end))
        return log_holds

    def committed_offset(topic: str, partition: int) -> int | None:
        asked.append(("committed", topic, partition))
        return committed

    return ContinuityGuard(Settings(), committed_offset, consumer.seek, holds_records)


def admitted(checker: ContinuityGuard, *offsets: int) -> list[int]:
    """The offsets of partition t[1] the agent may handle, handed over in this order."""

    async def read() -> list[int]:
        return [o for o in offsets if await checker.admit(Message("t", 1, o))]

    return asyncio.run(read())


def test_a_hole_that_holds_records_is_read_again_before_anything_after_it() -> None:
    asked: list[Any] = []
    consumer = Consumer()
    checker = guard(30, True, asked, consumer)
    # After a restart the consumer hands over 36 and 37 first, then (after the seek
    # back) 30 to 37: only the second reading is handled.
    handed = admitted(checker, 36, 37, *range(30, 38))
    assert handed == list(range(30, 38))
    assert consumer.seeks == [(("t", 1), 30)]
    assert [a for a in asked if a[0] == "t"] == [("t", 1, 30, 36)]


def test_a_hole_without_records_is_passed_and_the_agent_goes_on_from_there() -> None:
    asked: list[Any] = []
    consumer = Consumer()
    handed = admitted(guard(30, False, asked, consumer), 32, 33, 34)
    assert handed == [32, 33, 34]
    # The broker and the log were asked once, for the one hole; then never again.
    assert asked == [("committed", "t", 1), ("t", 1, 30, 32)]
    assert consumer.seeks == []
