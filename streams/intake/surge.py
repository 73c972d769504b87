"""A surge detector: signatures for one petition, or from one email domain for one
petition, arriving far faster than they did before.

A petition going viral is good news and a bot wave is not, and both look like a
surge; the detector tells ops (a warning in the log, a metric, the intake's
/healthz) so that someone looks (``countersign sources``) and, if it is an attack,
undoes it (``countersign invalidate``). It refuses nobody.

Pure bookkeeping with an injected clock: counts per bucket (a minute, unless set
shorter, as the tests do) over the recent window and the baseline before it, bounded
in memory (least recently seen keys dropped).
A detector reports nothing until it has watched for a whole baseline: without a
past, every first minute would look like a surge.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass

#: Keys followed at once (petitions and petition/domain pairs); the least recently
#: seen are forgotten first.
MAX_KEYS = 10_000
#: A key's surge is reported at most once per this many seconds.
COOLDOWN_SECONDS = 600.0


@dataclass(frozen=True)
class Surge:
    petition_id: str
    #: The email domain, or None for the petition as a whole.
    domain: str | None
    recent: int  # signatures in the recent window
    per_minute_before: float  # the baseline's rate

    def describe(self, window_seconds: float) -> str:
        what = f"from {self.domain} " if self.domain else ""
        times = (
            f"{self.recent / (window_seconds / 60) / self.per_minute_before:.0f}x the rate"
            if self.per_minute_before
            else "none"
        )
        return (
            f"surge on petition {self.petition_id}: {self.recent} signatures {what}in the "
            f"last {window_seconds / 60:g} min ({times} of the hour before); "
            f"see `countersign sources --petition {self.petition_id}`"
        )


class _Buckets:
    """Counts per whole bucket, for the last ``keep`` buckets."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.counts: deque[tuple[int, int]] = deque()

    def add(self, bucket: int) -> None:
        if self.counts and self.counts[-1][0] == bucket:
            self.counts[-1] = (bucket, self.counts[-1][1] + 1)
        else:
            self.counts.append((bucket, 1))
        while self.counts and self.counts[0][0] <= bucket - self.keep:
            self.counts.popleft()

    def between(self, first: int, last: int) -> int:
        """Signatures in buckets ``first`` .. ``last`` (inclusive)."""
        return sum(n for bucket, n in self.counts if first <= bucket <= last)


class SurgeDetector:
    def __init__(
        self,
        *,
        window_seconds: float = 300.0,
        baseline_seconds: float = 3600.0,
        factor: float = 10.0,
        min_signatures: int = 100,
        bucket_seconds: float = 60.0,
    ) -> None:
        self.bucket_seconds = bucket_seconds
        self.window = max(1, math.ceil(window_seconds / bucket_seconds))
        self.baseline = max(1, math.ceil(baseline_seconds / bucket_seconds))
        self.factor = factor
        self.min_signatures = min_signatures
        self._keys: OrderedDict[tuple[str, str | None], _Buckets] = OrderedDict()
        self._reported: dict[tuple[str, str | None], float] = {}
        self._started: float | None = None
        #: The surges reported within their cooldown: what /healthz shows.
        self.current: dict[tuple[str, str | None], Surge] = {}

    def observe(self, petition_id: str, email: str, now: float) -> list[Surge]:
        """Count one signature Kafka took at ``now`` (seconds); the surges it starts."""
        domain = email.strip().rpartition("@")[2].lower() or None
        bucket = int(now // self.bucket_seconds)
        if self._started is None:
            self._started = now
        warm = now - self._started >= self.baseline * self.bucket_seconds
        found = []
        keys = [(petition_id, None)] + ([(petition_id, domain)] if domain else [])
        for key in keys:
            buckets = self._buckets(key)
            buckets.add(bucket)
            surge = self._check(key, buckets, bucket, now) if warm else None
            if surge is not None:
                found.append(surge)
        self._expire(now)
        return found

    def _buckets(self, key: tuple[str, str | None]) -> _Buckets:
        buckets = self._keys.get(key)
        if buckets is None:
            buckets = self._keys[key] = _Buckets(self.window + self.baseline)
            if len(self._keys) > MAX_KEYS:
                self._keys.popitem(last=False)
        else:
            self._keys.move_to_end(key)
        return buckets

    def _check(
        self, key: tuple[str, str | None], buckets: _Buckets, bucket: int, now: float
    ) -> Surge | None:
        recent = buckets.between(bucket - self.window + 1, bucket)
        if recent < self.min_signatures:
            return None
        before = buckets.between(bucket - self.window - self.baseline + 1, bucket - self.window)
        per_bucket_before = before / self.baseline
        if recent / self.window < self.factor * max(per_bucket_before, 1 / self.baseline):
            return None
        if now - self._reported.get(key, -math.inf) < COOLDOWN_SECONDS:
            return None
        self._reported[key] = now
        per_minute_before = per_bucket_before * 60 / self.bucket_seconds
        surge = Surge(key[0], key[1], recent, per_minute_before)
        self.current[key] = surge
        return surge

    def _expire(self, now: float) -> None:
        for key in [k for k, at in self._reported.items() if now - at >= COOLDOWN_SECONDS]:
            del self._reported[key]
            self.current.pop(key, None)
