"""A surge detector: signatures for one petition, or from one email domain for one
petition, arriving far faster than they did before.

A petition going viral is good news and a bot wave is not, and both look like a
surge; the detector tells ops (a warning in the log, a metric, the intake's
/healthz) so that someone looks (``countersign sources``) and, if it is an attack,
undoes it (``countersign invalidate``). It refuses nobody.

Pure bookkeeping with an injected clock: counts per minute over the recent window
and the baseline before it, bounded in memory (least recently seen keys dropped).
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


class _Minutes:
    """Counts per whole minute, for the last ``keep`` minutes."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.counts: deque[tuple[int, int]] = deque()

    def add(self, minute: int) -> None:
        if self.counts and self.counts[-1][0] == minute:
            self.counts[-1] = (minute, self.counts[-1][1] + 1)
        else:
            self.counts.append((minute, 1))
        while self.counts and self.counts[0][0] <= minute - self.keep:
            self.counts.popleft()

    def between(self, first: int, last: int) -> int:
        """Signatures in minutes ``first`` .. ``last`` (inclusive)."""
        return sum(n for minute, n in self.counts if first <= minute <= last)


class SurgeDetector:
    def __init__(
        self,
        *,
        window_seconds: float = 300.0,
        baseline_seconds: float = 3600.0,
        factor: float = 10.0,
        min_signatures: int = 100,
    ) -> None:
        self.window = max(1, math.ceil(window_seconds / 60))
        self.baseline = max(1, math.ceil(baseline_seconds / 60))
        self.factor = factor
        self.min_signatures = min_signatures
        self._keys: OrderedDict[tuple[str, str | None], _Minutes] = OrderedDict()
        self._reported: dict[tuple[str, str | None], float] = {}
        self._started: float | None = None
        #: The surges reported within their cooldown: what /healthz shows.
        self.current: dict[tuple[str, str | None], Surge] = {}

    def observe(self, petition_id: str, email: str, now: float) -> list[Surge]:
        """Count one signature Kafka took at ``now`` (seconds); the surges it starts."""
        domain = email.strip().rpartition("@")[2].lower() or None
        minute = int(now // 60)
        if self._started is None:
            self._started = now
        warm = now - self._started >= self.baseline * 60
        found = []
        keys = [(petition_id, None)] + ([(petition_id, domain)] if domain else [])
        for key in keys:
            minutes = self._minutes(key)
            minutes.add(minute)
            surge = self._check(key, minutes, minute, now) if warm else None
            if surge is not None:
                found.append(surge)
        self._expire(now)
        return found

    def _minutes(self, key: tuple[str, str | None]) -> _Minutes:
        minutes = self._keys.get(key)
        if minutes is None:
            minutes = self._keys[key] = _Minutes(self.window + self.baseline)
            if len(self._keys) > MAX_KEYS:
                self._keys.popitem(last=False)
        else:
            self._keys.move_to_end(key)
        return minutes

    def _check(
        self, key: tuple[str, str | None], minutes: _Minutes, minute: int, now: float
    ) -> Surge | None:
        recent = minutes.between(minute - self.window + 1, minute)
        if recent < self.min_signatures:
            return None
        before = minutes.between(minute - self.window - self.baseline + 1, minute - self.window)
        per_minute_before = before / self.baseline
        if recent / self.window < self.factor * max(per_minute_before, 1 / self.baseline):
            return None
        if now - self._reported.get(key, -math.inf) < COOLDOWN_SECONDS:
            return None
        self._reported[key] = now
        surge = Surge(key[0], key[1], recent, per_minute_before)
        self.current[key] = surge
        return surge

    def _expire(self, now: float) -> None:
        for key in [k for k, at in self._reported.items() if now - at >= COOLDOWN_SECONDS]:
            del self._reported[key]
            self.current.pop(key, None)
