"""Folding the dedupe stage's partial counts into exact totals per (petition, country).

Each dedupe partition publishes how many winners it holds per (petition, country) as
an absolute number. A partition's number only grows (winners are never forgotten), so
the fold keeps the largest number seen per partition: a number delivered twice, late,
or from a previous owner of the partition after a rebalance never lowers or inflates
the total, which is the sum over partitions (docs/exactly-once.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from streams.rules.countries import region_of

#: Per count key: ``{str(partition): winners}`` (JSON keys are strings).
Partials = Mapping[str, int]


def fold(partials: Partials | None, partition: int, signatures: int) -> dict[str, int] | None:
    """The partials after one report, or None when the report changes nothing."""
    current = dict(partials or {})
    if current.get(str(partition), -1) >= signatures:
        return None
    current[str(partition)] = signatures
    return current


def total(partials: Partials) -> int:
    return sum(partials.values())


def regional_count(
    petition_id: str, country: str, partials: Partials, now: datetime
) -> dict[str, Any]:
    """The RegionalCount (v2) record of one (petition, country)."""
    return {
        "petition_id": petition_id,
        "region": region_of(country),
        "country": country,
        "signatures": total(partials),
        "updated_at": now,
    }
