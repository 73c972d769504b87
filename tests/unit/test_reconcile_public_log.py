"""``reconcile`` holds each petition's public log to the recount: the count its newest
signed head vouches for must equal the petition's recounted total."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from streams.audit.reconcile import PUBLIC_LOG, TOTAL, Found, Shown, compare
from streams.audit.recount import Recount
from tests.unit.test_recount import HASH_KEY, logged


def recounted() -> tuple[Recount, Found, dict[str, int]]:
    """A recount of a small dataset; the aggregate's numbers as the reference gives
    them (so only the public log can differ); each petition's total."""
    records, windows, truth = logged(8, 600)
    totals: Counter[str] = Counter()
    for (petition, _, _), n in truth.counts.items():
        totals[petition] += n
    aggregate: Found = {key: {"regional_counts": (n, None)} for key, n in truth.counts.items()}
    return Recount.of(records, windows, HASH_KEY, "t"), aggregate, dict(totals)


def log_rows(
    recount: Recount, aggregate: Found, heads: dict[str, int]
) -> dict[str, tuple[int, int, bool]]:
    """Per petition: (expected, found, agrees) of the public log in its total's row."""
    rows = compare(recount, Shown(aggregate, datetime.now(UTC), heads), {}, None)
    return {
        row.petition: (row.expected_by_source[PUBLIC_LOG], row.found[PUBLIC_LOG], row.agrees)
        for row in rows
        if (row.region, row.country) == (TOTAL, "total") and PUBLIC_LOG in row.found
    }


def test_heads_that_vouch_for_each_total_agree() -> None:
    recount, aggregate, totals = recounted()
    assert log_rows(recount, aggregate, totals) == {p: (n, n, True) for p, n in totals.items()}


def test_a_head_short_of_its_total_is_a_difference() -> None:
    recount, aggregate, totals = recounted()
    petition = max(totals, key=lambda p: totals[p])
    short = totals | {petition: totals[petition] - 1}
    assert log_rows(recount, aggregate, short)[petition] == (
        totals[petition],
        totals[petition] - 1,
        False,
    )


def test_a_petition_whose_log_has_no_head_yet_shows_zero() -> None:
    recount, aggregate, totals = recounted()
    petition = min(totals)
    rows = log_rows(recount, aggregate, {petition: 0})
    assert rows == {petition: (totals[petition], 0, totals[petition] == 0)}


def test_without_the_logs_no_row_names_them() -> None:
    recount, aggregate, _ = recounted()
    rows = compare(recount, Shown(aggregate, datetime.now(UTC)), {}, None)
    assert all(PUBLIC_LOG not in row.found for row in rows)
