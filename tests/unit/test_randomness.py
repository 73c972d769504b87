"""random_bytes: keys and nonces from a page of os.urandom, never served twice."""

from __future__ import annotations

import os
import threading

import pytest

from schemas import randomness
from schemas.randomness import PAGE_BYTES, random_bytes


def test_it_gives_the_length_asked_for_even_past_a_page() -> None:
    assert [len(random_bytes(n)) for n in (0, 1, 12, PAGE_BYTES, PAGE_BYTES + 1)] == [
        0,
        1,
        12,
        PAGE_BYTES,
        PAGE_BYTES + 1,
    ]


def test_draws_across_several_pages_never_repeat() -> None:
    draws = [random_bytes(12) for _ in range(3 * PAGE_BYTES // 12)]
    assert len(set(draws)) == len(draws)


def test_threads_drawing_at_once_never_get_the_same_bytes() -> None:
    drawn: list[bytes] = []

    def draw() -> None:
        mine = [random_bytes(40) for _ in range(500)]
        drawn.extend(mine)

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(drawn)) == len(drawn) == 2000


def test_a_forked_child_does_not_draw_what_its_parent_draws_next() -> None:
    random_bytes(1)  # a page is held, with bytes left in it
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        os.write(writing, random_bytes(32))
        os._exit(0)
    os.close(writing)
    in_child = os.read(reading, 32)
    os.waitpid(child, 0)
    os.close(reading)
    assert len(in_child) == 32
    assert in_child != random_bytes(32)


def test_the_page_is_drawn_from_the_operating_system(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counting_urandom(count: int) -> bytes:
        calls.append(count)
        return bytes(count)

    monkeypatch.setattr(os, "urandom", counting_urandom)
    pool = randomness._Pool()
    for _ in range(PAGE_BYTES // 64 + 1):
        pool.take(64)
    assert calls == [PAGE_BYTES, PAGE_BYTES]
