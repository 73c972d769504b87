"""The live counts as they stood at another cut: what ``countersign replay`` compares
its counts with.

A replay counts the log up to where it was copied; the live pipeline has counted on
since (or not yet as far). Each live number carries the cut it covers
(``streams.rules.cut``), so the log itself says how far apart the two are: the live
number, minus what the recount gives between the live cut and the replay's end, is
the live number *as of the replay's end*. A live number altered behind the
pipeline's back stays off by as much, so the comparison still catches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.audit.recount import Recount
from streams.core.logscan import LogRange
from streams.rules.cut import Cut, HomeCut


def coverage(
    submitted: LogRange, confirmations: LogRange, moderations: LogRange, homes: int
) -> Cut:
    """The cut of a pipeline that counted ``submitted`` and these confirmations and
    moderations, all of them (a settled replay): every home covers every record."""
    return Cut(
        {
            home: HomeCut(
                {p: (end, 0) for p, (_, end) in submitted.offsets.items()},
                confirmations.offsets.get(home, (0, 0))[1],
                moderations.offsets.get(home, (0, 0))[1],
            )
            for home in range(homes)
        }
    )


def live_as_of(
    recount: Recount,
    petition: str,
    live: Mapping[str, Any],
    end: Cut,
    rejected_at_end: Mapping[str, int],
) -> dict[str, Any] | None:
    """The API's numbers of ``petition`` (read with ``?cut=1``) moved to cut ``end``:
    ``total``, ``by_country``, ``pending`` and ``rejected`` (those are ClickHouse's
    rejection rows that ``end`` covers, ``rejected_at_end``). None when the live
    numbers do not say what they cover (written before cuts existed). A country the
    live numbers do not show yet is taken at the petition's latest cut."""
    known = {country: Cut.from_json_object(raw) for country, raw in live.get("cut", {}).items()}
    cuts = {country: cut for country, cut in known.items() if cut is not None}
    if len(cuts) < len(known):
        return None
    # A petition with no count yet has counted nothing: the empty cut.
    latest = max(cuts.values(), key=lambda cut: cut.extent, default=Cut({}))
    countries = set(cuts) | {c for (p, c) in recount.rows_of() if p == petition}
    by_country: dict[str, int] = {}
    pending = int(live.get("pending", 0))
    for country in countries:
        at = cuts.get(country) or latest
        counted_live, pending_live = recount.row_at(petition, country, at)
        counted_end, pending_end = recount.row_at(petition, country, end)
        n = int(live["by_country"].get(country, 0)) - (counted_live - counted_end)
        pending -= pending_live - pending_end
        if n:
            by_country[country] = n
    return {
        "total": sum(by_country.values()),
        "by_country": dict(sorted(by_country.items(), key=lambda kv: -kv[1])),
        "pending": pending,
        "rejected": {reason: int(rejected_at_end.get(reason, 0)) for reason in live["rejected"]},
    }
