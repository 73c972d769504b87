"""Rate limits per (client IP, petition): sliding windows, all enforced at once."""

from __future__ import annotations

import pytest

from streams.core.errors import Backpressure, RateLimited
from streams.intake.ratelimit import RateLimiter

KEY = ("198.51.100.7", "syria-icc")


def test_the_first_signature_passes() -> None:
    assert RateLimiter([(1, 60)]).acquire(KEY, now=1000.0) == 1000.0


def test_a_second_signature_within_the_window_is_refused_with_the_wait() -> None:
    limiter = RateLimiter([(1, 60)])
    limiter.acquire(KEY, now=1000.0)
    with pytest.raises(RateLimited) as refused:
        limiter.acquire(KEY, now=1015.0)
    assert refused.value.retry_after == pytest.approx(45.0)


def test_rate_limited_is_backpressure_and_a_stdlib_runtime_error() -> None:
    limiter = RateLimiter([(1, 60)])
    limiter.acquire(KEY, now=0.0)
    with pytest.raises(Backpressure):
        limiter.acquire(KEY, now=1.0)
    with pytest.raises(RuntimeError):
        limiter.acquire(KEY, now=2.0)


def test_the_window_slides() -> None:
    limiter = RateLimiter([(1, 60)])
    limiter.acquire(KEY, now=1000.0)
    assert limiter.acquire(KEY, now=1060.5) == 1060.5


def test_the_longer_window_applies_too() -> None:
    # 1/10 s and 3/300 s: three signatures 11 s apart pass, the fourth waits until the
    # first leaves the 300-second window.
    limiter = RateLimiter([(1, 10), (3, 300)])
    for n in range(3):
        limiter.acquire(KEY, now=n * 11.0)
    with pytest.raises(RateLimited) as refused:
        limiter.acquire(KEY, now=33.0)
    assert refused.value.retry_after == pytest.approx(300 - 33.0)


def test_clients_and_petitions_have_separate_budgets() -> None:
    limiter = RateLimiter([(1, 60)])
    limiter.acquire(("198.51.100.7", "syria-icc"), now=0.0)
    limiter.acquire(("198.51.100.8", "syria-icc"), now=0.0)
    limiter.acquire(("198.51.100.7", "clean-air"), now=0.0)


def test_a_released_slot_can_be_used_again() -> None:
    limiter = RateLimiter([(1, 60)])
    stamp = limiter.acquire(KEY, now=0.0)
    assert stamp is not None
    limiter.release(KEY, stamp)
    assert limiter.acquire(KEY, now=1.0) == 1.0


def test_idle_clients_are_forgotten() -> None:
    limiter = RateLimiter([(1, 60)])
    for n in range(100):
        limiter.acquire((f"10.0.0.{n}", "p"), now=0.0)
    limiter.acquire(("10.0.1.1", "p"), now=1000.0)
    assert len(limiter) == 1


def test_resending_the_same_submission_takes_no_new_slot() -> None:
    limiter = RateLimiter([(1, 60)])
    assert limiter.acquire(KEY, now=0.0, token="sig-1") == 0.0
    assert limiter.acquire(KEY, now=5.0, token="sig-1") is None  # nothing taken
    with pytest.raises(RateLimited):
        limiter.acquire(KEY, now=6.0, token="sig-2")
