"""Folding the dedupe stage's partial counts into exact totals per (petition, country).

Each dedupe partition publishes, per petition, how many winners it holds per country,
as absolute numbers. A partition's number only grows (winners are never forgotten), so
the fold keeps the largest number seen per (country, partition): a number delivered
twice, late, or from a previous owner of the partition after a rebalance never lowers
or inflates a total, which is the sum over partitions (docs/exactly-once.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from streams.rules.countries import region_of

#: Of one petition: ``{country: {str(partition): winners}}`` (JSON keys are strings).
Partials = Mapping[str, Mapping[str, int]]


def fold(
    partials: Partials | None, partition: int, countries: Mapping[str, int]
) -> tuple[dict[str, dict[str, int]], list[str]]:
    """The petition's partials after one report, and the countries whose total moved
    (none when the report is redelivered, late or stale)."""
    folded = {country: dict(by_partition) for country, by_partition in (partials or {}).items()}
    moved = []
    for country, signatures in countries.items():
        by_partition = folded.setdefault(country, {})
        if by_partition.get(str(partition), -1) < signatures:
            by_partition[str(partition)] = signatures
            moved.append(country)
    return folded, sorted(moved)


def total(by_partition: Mapping[str, int]) -> int:
    return sum(by_partition.values())


def regional_count(
    petition_id: str, country: str, by_partition: Mapping[str, int], now: datetime
) -> dict[str, Any]:
    """The RegionalCount (v2) record of one (petition, country)."""
    return {
        "petition_id": petition_id,
        "region": region_of(country),
        "country": country,
        "signatures": total(by_partition),
        "updated_at": now,
    }
