"""settle_heap: start-up objects frozen, young collections rarer."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest

from streams.core.heap import YOUNG_THRESHOLD, frozen_for_forks, settle_heap


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_collector")
def test_what_exists_at_start_up_is_frozen_and_the_young_collected_less_often() -> None:
    settle_heap()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD


def test_garbage_is_collected_before_a_fork_and_nothing_inherited_after() -> None:
    # A librdkafka client in a cycle, destroyed in a forked child, hangs it for good.
    reading, writing = os.pipe()

    class Handle:
        def __del__(self) -> None:
            os.write(writing, f"{os.getpid()}\n".encode())

    enabled = gc.isenabled()
    gc.disable()  # the cycle must still exist when the fork comes
    try:
        cycle = Handle()
        cycle.me = cycle  # type: ignore[attr-defined]
        del cycle
        with frozen_for_forks():
            child = os.fork()
            if child == 0:  # pragma: no cover - the child reports through the pipe
                gc.collect()
                os._exit(0)
            os.waitpid(child, 0)
    finally:
        if enabled:
            gc.enable()
    os.close(writing)
    with os.fdopen(reading) as pipe:
        assert pipe.read().split() == [str(os.getpid())]
