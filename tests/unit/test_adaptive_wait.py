"""The intake's surge batching (``streams.publish.coalescing``): a quiet partition's
submission goes out at once; at a surge the wait gathers about ``target`` signatures
a record, never waiting longer than ``max_wait``."""

from __future__ import annotations

import pytest

from streams.publish.coalescing import AdaptiveWait


def steady(wait: AdaptiveWait, per_second: float, seconds: float, partition: int = 0) -> float:
    """Arrivals at ``per_second`` for ``seconds``; the wait the last one was given."""
    step = 1 / per_second
    given = 0.0
    for n in range(round(per_second * seconds)):
        given = wait.arrival(partition, n * step)
    return given


def test_the_first_submission_goes_out_at_once() -> None:
    assert AdaptiveWait(target=50, max_wait=0.05).arrival(0, 100.0) == 0.0


def test_a_quiet_partition_never_waits() -> None:
    # One a second: in 50 ms another is expected 0.05 times, far less than once.
    assert steady(AdaptiveWait(target=50, max_wait=0.05), per_second=1, seconds=30) == 0.0


@pytest.mark.parametrize("per_second", [1_000, 2_500, 10_000])
def test_at_a_surge_the_wait_gathers_about_target_signatures(per_second: int) -> None:
    given = steady(AdaptiveWait(target=50, max_wait=0.2), per_second, seconds=5)
    # 49 others at the rate take 49 / rate seconds to arrive.
    assert given == pytest.approx(49 / per_second, rel=0.02)


def test_the_wait_never_exceeds_max_wait() -> None:
    # At 200/s, 49 others would take 245 ms: the wait stops at 50 ms (about 10 a record).
    assert steady(AdaptiveWait(target=50, max_wait=0.05), per_second=200, seconds=5) == 0.05


def test_a_surge_is_forgotten_within_seconds() -> None:
    wait = AdaptiveWait(target=50, max_wait=0.05)
    steady(wait, per_second=1_000, seconds=3)
    # The rate decays by e every second: 5 s later about 1,000 / e^5 = 6.7 a second.
    assert wait.arrival(0, 3 + 5) == 0.0


def test_partitions_are_counted_apart() -> None:
    wait = AdaptiveWait(target=50, max_wait=0.05)
    steady(wait, per_second=1_000, seconds=2, partition=1)
    assert wait.arrival(2, 2.0) == 0.0
    assert wait.arrival(1, 2.0) > 0.0


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="target"):
        AdaptiveWait(target=0, max_wait=0.05)
