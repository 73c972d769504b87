"""After a rebalance Faust seeks every partition to its committed offset; one with no
committed offset (or 0) must go back to its first record too, or what Faust fetched
and dropped there is lost (``streams.worker.engine.rewind_uncommitted``)."""

from __future__ import annotations

import asyncio
from typing import NamedTuple

from streams.worker.engine import rewind_uncommitted


class TP(NamedTuple):
    topic: str
    partition: int


class FaustConsumerDouble:
    """The three calls of Faust's consumer that the rewind uses, recording seeks."""

    def __init__(self, committed: dict[TP, int | None], earliest: dict[TP, int]) -> None:
        self.committed = committed
        self.earliest = earliest
        self.sought: dict[TP, int] = {}

    async def seek_to_committed(self) -> dict[TP, int | None]:
        return dict(self.committed)

    async def earliest_offsets(self, *partitions: TP) -> dict[TP, int]:
        return {tp: self.earliest[tp] for tp in partitions}

    async def seek_wait(self, partitions: dict[TP, int]) -> None:
        self.sought.update(partitions)


def seek(committed: dict[TP, int | None], earliest: dict[TP, int]) -> FaustConsumerDouble:
    consumer = FaustConsumerDouble(committed, earliest)
    rewind_uncommitted(consumer, is_stream=lambda topic: topic == "valid")
    answer = asyncio.run(consumer.seek_to_committed())
    assert answer == committed  # what Faust then sets its read offsets from
    return consumer


def test_a_stream_partition_nobody_committed_is_read_from_its_first_record() -> None:
    consumer = seek({TP("valid", 1): None}, {TP("valid", 1): 0})
    assert consumer.sought == {TP("valid", 1): 0}


def test_a_commit_of_offset_zero_is_read_from_the_first_record_still_there() -> None:
    consumer = seek({TP("valid", 2): 0}, {TP("valid", 2): 40})  # retention removed 0-39
    assert consumer.sought == {TP("valid", 2): 40}


def test_a_committed_partition_is_left_where_faust_sought_it() -> None:
    consumer = seek({TP("valid", 3): 36}, {TP("valid", 3): 0})
    assert consumer.sought == {}


def test_a_table_changelog_is_left_to_faust_recovery() -> None:
    consumer = seek({TP("winners-changelog", 1): None}, {TP("winners-changelog", 1): 0})
    assert consumer.sought == {}
