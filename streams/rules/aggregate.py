"""Running totals by (petition, country) and per-minute counts, by event time.

The totals are *derived* from the set of counted dedupe keys (a table) rather than
kept as counters of their own: a counter and a "counted" flag written separately
could disagree after a crash, while a set replayed twice is the same set. The worker
rebuilds ``RunningCounts`` from the table after every recovery.

Minutes come from ``submitted_at`` (event time), not the worker's clock, so a replay
or a rebuild from the audit log produces the very same per-minute series.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any


def count_key(petition_id: str, country: str) -> str:
    """Key of ``counts.regional``: petition_id + country."""
    return f"{petition_id}:{country}"


def minute_of(moment: datetime) -> int:
    """Epoch seconds of the start of the minute ``moment`` falls in."""
    return int(moment.timestamp()) // 60 * 60


class RunningCounts:
    """Totals per count key and per (count key, minute), derived from counted keys."""

    def __init__(self) -> None:
        self.totals: Counter[str] = Counter()
        self.minutes: Counter[tuple[str, int]] = Counter()

    def add(self, key: str, minute: int) -> None:
        self.totals[key] += 1
        self.minutes[key, minute] += 1

    @classmethod
    def rebuild(cls, counted: Iterable[tuple[str, Any]]) -> RunningCounts:
        """From ``(dedupe key, [count key, minute])`` entries of the counted table."""
        counts = cls()
        for _, (key, minute) in counted:
            counts.add(key, minute)
        return counts


def regional_count(
    accepted: dict[str, Any], *, counts: RunningCounts, now: datetime
) -> dict[str, Any]:
    """The RegionalCount to publish for ``accepted``'s (petition, country)."""
    key = count_key(accepted["petition_id"], accepted["country"])
    minute = minute_of(accepted["submitted_at"])
    return {
        "petition_id": accepted["petition_id"],
        "region": accepted["region"],
        "country": accepted["country"],
        "signatures": counts.totals[key],
        "minute": datetime.fromtimestamp(minute, UTC),
        "minute_signatures": counts.minutes[key, minute],
        "updated_at": now,
    }
