"""Folding the dedupe stage's partial counts into exact totals per (petition, country).

Each dedupe partition publishes, per petition, how many counted and pending signatures
it holds per country, as absolute numbers with a version that grows with every change
behind them (``rules.dedupe.PartialCounts``). The fold keeps, per partition, the
report with the largest version: a report delivered twice, late, or from a previous
owner of the partition after a rebalance never replaces a newer one, so a total (the
sum over partitions) is never inflated nor set back (docs/exactly-once.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from streams.rules.countries import has_region, region_of

#: Of one petition (Faust's JSON, so partitions are strings):
#: ``{"versions": {partition: version}, "counted": {country: {partition: n}},
#: "pending": {country: {partition: n}}, "cuts": {partition: HomeCut record}}``.
Partials = Mapping[str, Any]
KINDS = ("counted", "pending")
#: The largest number a report may carry: sums of these stay within Avro's long.
MAX_REPORTED = 2**53


def report_problem(report: Mapping[str, Any]) -> str | None:
    """Why a PartialCount cannot be folded (None: it can). The dedupe stage writes
    only good ones; anything else on the topic must not stop the totals."""
    numbers = [report["partition"], report["version"]]
    for kind in ("countries", "pending"):
        for country, number in report[kind].items():
            if not has_region(country):
                return f"a {kind} number for {country[:8]!r}, which no region holds"
            numbers.append(number)
    cut = report.get("cut")
    if cut is not None:
        if cut["home"] != report["partition"]:
            return f"a cut of partition {cut['home']} in a report of {report['partition']}"
        numbers += [cut["confirmations"], cut["moderations"]]
        numbers += [n for s in cut["submitted"] for n in (s["partition"], s["offset"], s["index"])]
    if any(not 0 <= n <= MAX_REPORTED for n in numbers):
        return f"a number outside 0..{MAX_REPORTED}"
    return None


def fold(
    partials: Partials | None,
    partition: int,
    counted: Mapping[str, int],
    pending: Mapping[str, int],
    version: int,
    *,
    cut: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str], bool]:
    """The petition's partials after one report of ``partition``; the countries whose
    totals to publish; and whether the report is newer than the one kept (the table
    must be written then, even when no number moved: a version that came back to the
    same numbers must not let an older report in after a restart).

    A report seen before (the same version: redelivered after a crash) publishes its
    partition's countries again: the totals may not have reached Kafka before the
    crash, and publishing them twice changes nothing. A late or stale one publishes
    nothing. ``cut``: what the report's numbers cover (``rules.cut``), kept with them."""
    folded: dict[str, Any] = {
        "versions": dict((partials or {}).get("versions", {})),
        "cuts": dict((partials or {}).get("cuts", {})),
        **{kind: {c: dict(p) for c, p in (partials or {}).get(kind, {}).items()} for kind in KINDS},
    }
    part = str(partition)
    kept = folded["versions"].get(part, -1)
    if kept > version:
        return folded, [], False
    if kept == version:
        again = {c for kind in KINDS for c, p in folded[kind].items() if part in p}
        return folded, sorted(again), False
    folded["versions"][part] = version
    if cut is None:
        folded["cuts"].pop(part, None)
    else:
        folded["cuts"][part] = dict(cut)
    moved = set()
    for kind, numbers in (("counted", counted), ("pending", pending)):
        by_country = folded[kind]
        # A country the partition no longer reports has none left there.
        for country in set(numbers) | {c for c, p in by_country.items() if part in p}:
            new = numbers.get(country, 0)
            if by_country.setdefault(country, {}).get(part, 0) != new:
                moved.add(country)
            by_country[country][part] = new
    return folded, sorted(moved), True


def merge(stored: Partials, restored: Partials) -> dict[str, Any]:
    """One petition's partials from two states of them, per partition the report with
    the larger version: how a restore takes a changelog record, so the order in which
    records come back (a paused worker's late one after newer ones) changes nothing."""
    merged = dict(fold(stored, 0, {}, {}, -1)[0])  # a copy: version -1 changes nothing
    for part, version in restored.get("versions", {}).items():
        counted, pending = (
            {c: p[part] for c, p in restored.get(kind, {}).items() if part in p} for kind in KINDS
        )
        cut = restored.get("cuts", {}).get(part)
        merged = fold(merged, int(part), counted, pending, version, cut=cut)[0]
    return merged


def regional_count(
    petition_id: str, country: str, partials: Partials, now: datetime
) -> dict[str, Any]:
    """The RegionalCount (v4) record of one (petition, country), with the cut of
    every home partition that reported for the petition (None when one did not say)."""
    cuts = partials.get("cuts", {})
    known = all(part in cuts for part in partials["versions"])
    return {
        "petition_id": petition_id,
        "region": region_of(country),
        "country": country,
        "signatures": sum(partials["counted"].get(country, {}).values()),
        "pending": sum(partials["pending"].get(country, {}).values()),
        "version": sum(partials["versions"].values()),
        "updated_at": now,
        "cut": [cuts[part] for part in sorted(partials["versions"], key=int)] if known else None,
    }


class DueCounts:
    """The (petition, country) totals that moved and are not published yet, with the
    newest fold of their petition.

    Every dedupe partition reports a busy petition every few hundred milliseconds, and
    most reports move most of its countries: publishing on every report sent each
    total once per partition per round (the aggregate's largest cost, and the sink's).
    Marked here instead, each is published once per round, from the newest fold. The
    fold is kept, not looked up again: it is a snapshot (``fold`` builds a new one per
    report), so publishing needs nothing that a rebalance may have taken away."""

    def __init__(self) -> None:
        self._due: dict[str, tuple[Partials, set[str]]] = {}

    def mark(self, petition_id: str, folded: Partials, countries: list[str]) -> None:
        """``countries`` of ``petition_id`` moved; ``folded`` is its newest fold."""
        if not countries:
            return
        kept = self._due.get(petition_id)
        moved = set(countries) if kept is None else kept[1] | set(countries)
        self._due[petition_id] = (folded, moved)

    def take(self, now: datetime) -> list[dict[str, Any]]:
        """The RegionalCount records to publish (by petition, then country); none is
        due after this."""
        due, self._due = self._due, {}
        return [
            regional_count(petition_id, country, folded, now)
            for petition_id, (folded, countries) in sorted(due.items())
            for country in sorted(countries)
        ]

    def __len__(self) -> int:
        return sum(len(countries) for _, countries in self._due.values())
