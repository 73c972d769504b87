"""How long a submission waits for others of its partition: the intake's surge batching.

A record costs the worker far more than a signature in it does (docs/benchmarks.md),
so under load the intake puts the signatures of one partition into one record
(``schemas.batch``). A fixed wait is wrong both ways: at a quiet moment every signer
pays it for nothing, and at a surge a few milliseconds gather only a couple of
signatures. So the wait follows the rate at which the partition's signatures arrive:

* quiet (less than one other signature expected within ``max_wait``): no wait at
  all, the record goes out at once;
* busy: long enough for about ``target`` signatures at the current rate, and never
  longer than ``max_wait``, which bounds what a signer waits for company.

The rate is an exponentially decaying count of arrivals per partition (time constant
``horizon``), so it follows a surge within about a second and forgets it as fast.
Pure: the caller passes the time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class _Arrivals:
    count: float  # arrivals, each weighted by exp(-age / horizon)
    at: float  # when ``count`` was last brought up to date


class AdaptiveWait:
    """The wait of a record that a submission opens, from its partition's rate."""

    def __init__(self, *, target: int, max_wait: float, horizon: float = 1.0) -> None:
        if target < 1 or max_wait < 0 or horizon <= 0:
            raise ValueError("target >= 1, max_wait >= 0 and horizon > 0, please")
        self.target = target
        self.max_wait = max_wait
        self.horizon = horizon
        self._arrivals: dict[int, _Arrivals] = {}

    def rate(self, partition: int, now: float) -> float:
        """Arrivals per second on ``partition`` lately (the decayed count over the
        time constant)."""
        arrivals = self._arrivals.get(partition)
        if arrivals is None:
            return 0.0
        return arrivals.count * math.exp(-(now - arrivals.at) / self.horizon) / self.horizon

    def arrival(self, partition: int, now: float) -> float:
        """Count a submission for ``partition`` at ``now``; return how long a record
        it opens should wait for others (0: send it at once)."""
        others_per_second = self.rate(partition, now)  # before this one is counted
        self._arrivals[partition] = _Arrivals(others_per_second * self.horizon + 1, now)
        if others_per_second * self.max_wait < 1:
            return 0.0
        return min(self.max_wait, (self.target - 1) / others_per_second)
