"""The API's timeline cache (streams/web/cache.py) with a reading that stands in for
ClickHouse and counts itself: one reading per question and ``ttl``, however many ask,
at once or one after another; then a fresh one."""

from __future__ import annotations

import asyncio

import pytest

from streams.web.cache import Shared

Key = tuple[str, int, str]


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Reads:
    """A timeline reading that takes a while (so concurrent askers overlap) and counts
    how often it ran, per question."""

    def __init__(self, fail: bool = False) -> None:
        self.keys: list[Key] = []
        self.fail = fail

    async def __call__(self, key: Key) -> dict[str, object]:
        self.keys.append(key)
        await asyncio.sleep(0.05)
        if self.fail:
            raise ConnectionError("ClickHouse is away")
        return {"petition_id": key[0], "minutes": key[1], "read": len(self.keys)}


YEAR = ("p", 527_040, "minute")


def test_a_hundred_concurrent_requests_for_one_timeline_cost_one_read() -> None:
    reads = Reads()
    cache: Shared[Key, dict[str, object]] = Shared(reads, ttl=10, clock=Clock())

    async def burst() -> list[dict[str, object]]:
        return await asyncio.gather(*(cache.get(YEAR) for _ in range(100)))

    answers = asyncio.run(burst())
    assert reads.keys == [YEAR]
    assert all(answer == answers[0] for answer in answers)


def test_repeated_requests_within_the_ttl_cost_one_read_then_it_expires() -> None:
    reads, clock = Reads(), Clock()
    cache: Shared[Key, dict[str, object]] = Shared(reads, ttl=10, clock=clock)

    async def ask_over_time() -> list[object]:
        answers = []
        for at in (0.0, 1.0, 9.9):  # from when the first reading started
            clock.now = 1000.0 + at
            answers.append((await cache.get(YEAR))["read"])
        clock.now = 1010.0  # the answer is ttl old: read again
        answers.append((await cache.get(YEAR))["read"])
        clock.now = 1015.0
        answers.append((await cache.get(YEAR))["read"])
        return answers

    assert asyncio.run(ask_over_time()) == [1, 1, 1, 2, 2]
    assert reads.keys == [YEAR, YEAR]


def test_each_question_is_read_and_kept_on_its_own() -> None:
    reads = Reads()
    cache: Shared[Key, dict[str, object]] = Shared(reads, ttl=10, clock=Clock())
    questions = [
        ("p", 180, "minute"),
        ("p", 180, "hour"),
        ("p", 60, "minute"),
        ("q", 180, "minute"),
    ]

    async def ask_twice() -> None:
        for _ in range(2):
            await asyncio.gather(*(cache.get(key) for key in questions))

    asyncio.run(ask_twice())
    assert sorted(reads.keys) == sorted(questions)


def test_a_failed_reading_is_shared_by_its_waiters_and_not_kept() -> None:
    reads = Reads(fail=True)
    cache: Shared[Key, dict[str, object]] = Shared(reads, ttl=10, clock=Clock())

    async def ask() -> list[object]:
        return await asyncio.gather(*(cache.get(YEAR) for _ in range(5)), return_exceptions=True)

    assert all(isinstance(answer, ConnectionError) for answer in asyncio.run(ask()))
    assert len(reads.keys) == 1
    reads.fail = False
    assert asyncio.run(cache.get(YEAR))["read"] == 2  # the next request reads again


def test_a_caller_who_leaves_does_not_cancel_the_reading_others_wait_for() -> None:
    reads = Reads()
    cache: Shared[Key, dict[str, object]] = Shared(reads, ttl=10, clock=Clock())

    async def one_leaves() -> dict[str, object]:
        leaving = asyncio.create_task(cache.get(YEAR))
        staying = asyncio.create_task(cache.get(YEAR))
        await asyncio.sleep(0.01)
        leaving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        return await staying

    assert asyncio.run(one_leaves())["read"] == 1
    assert reads.keys == [YEAR]


def test_at_most_max_entries_answers_are_kept_the_oldest_go_first() -> None:
    reads = Reads()
    cache: Shared[Key, dict[str, object]] = Shared(reads, ttl=10, max_entries=3, clock=Clock())

    async def ask(minutes: range) -> None:
        for n in minutes:
            await cache.get(("p", n, "minute"))

    asyncio.run(ask(range(1, 6)))
    assert [key[1] for key in cache.entries] == [3, 4, 5]
