"""``Every``: a periodic daemon thread that survives the failures it expects."""

from __future__ import annotations

import threading

from streams.core.errors import KafkaUnavailable
from streams.core.periodic import Every


def test_an_expected_failure_is_survived_and_the_next_run_goes() -> None:
    runs: list[int] = []
    third = threading.Event()

    def action() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise KafkaUnavailable("the broker is away")
        if len(runs) == 3:
            third.set()

    every = Every("test", 0.01, action, survives=(KafkaUnavailable,), failed="{error}")
    every.start()
    try:
        assert third.wait(10), runs
    finally:
        every.stop()
    assert runs[:3] == [0, 1, 2]


def test_after_stop_it_runs_no_more() -> None:
    runs: list[int] = []
    every = Every("test", 0.01, lambda: runs.append(1), survives=(), failed="{error}")
    every.start()
    every.stop()
    seen = len(runs)
    threading.Event().wait(0.05)
    assert len(runs) == seen
