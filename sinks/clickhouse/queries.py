"""What the API and dashboard read from ClickHouse.

Signature totals come from one place: ``regional_counts``, the Faust aggregate's exact
totals (per petition and country, the row with the largest version). ``recount`` reads ClickHouse's
own count of the ``signatures`` rows, an independent cross-check that ``reconcile``
and the tests compare, never a second source for the API. Rejections are counted
once per source position (``FINAL``), so repeated deliveries never show."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from clickhouse_connect.driver.client import Client

from streams.rules.reasons import Reason

#: The current numbers of a (petition, country) in ``regional_counts``: the row with
#: the largest version (rows from before versions have 0: the largest number wins).
CURRENT_SIGNATURES = "argMax(signatures, (version, signatures))"
CURRENT_PENDING = "argMax(pending, (version, signatures))"
#: What those numbers cover (``streams.rules.cut``, JSON; '' when not known).
CURRENT_CUT = "argMax(cut, (version, signatures))"

#: The timeline's buckets, and the ClickHouse function that starts each (in UTC).
Bucket = Literal["minute", "hour", "day"]
BUCKETS: dict[Bucket, str] = {
    "minute": "toStartOfMinute",
    "hour": "toStartOfHour",
    "day": "toStartOfDay",
}


class CountsReader:
    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.db = database

    def totals(self) -> dict[str, int]:
        rows = self.client.query(
            "SELECT petition_id, sum(n) FROM (SELECT petition_id, country, "
            f"{CURRENT_SIGNATURES} AS n FROM {self.db}.regional_counts "
            "GROUP BY petition_id, country) GROUP BY petition_id"
        ).result_rows
        return {str(petition): int(n) for petition, n in rows}

    def by_country(self, petition_id: str) -> list[tuple[str, str, int, int]]:
        """``(region, country, signatures, pending)``: the aggregate's totals, in one
        read (the live feed does it every second)."""
        return [row[:4] for row in self._current(petition_id, with_cut=False)]

    def _current(self, petition_id: str, *, with_cut: bool) -> list[tuple[str, str, int, int, str]]:
        """The current rows, with what each covers (``streams.rules.cut``, JSON, '' when
        not known) read in the same query when asked: a later read could see newer
        numbers than the cut."""
        cut = f", {CURRENT_CUT}" if with_cut else ", ''"
        rows = self.client.query(
            f"SELECT region, country, {CURRENT_SIGNATURES}, {CURRENT_PENDING}{cut} "
            f"FROM {self.db}.regional_counts "
            "WHERE petition_id = {petition:String} GROUP BY region, country",
            parameters={"petition": petition_id},
        ).result_rows
        return [(str(r), str(c), int(n), int(p), str(cut)) for r, c, n, p, cut in rows]

    def recount(self, petition_id: str) -> list[tuple[str, str, int]]:
        """``(region, country, signatures)``: ClickHouse's own count of the signature
        rows (the cross-check)."""
        return self._per_country("sum(signatures)", "signature_counts", petition_id)

    def _per_country(
        self, aggregate: str, table: str, petition_id: str
    ) -> list[tuple[str, str, int]]:
        rows = self.client.query(
            f"SELECT region, country, {aggregate} FROM {self.db}.{table} "
            "WHERE petition_id = {petition:String} GROUP BY region, country",
            parameters={"petition": petition_id},
        ).result_rows
        return [(str(region), str(country), int(n)) for region, country, n in rows]

    def counts(self, petition_id: str, *, with_cut: bool = False) -> dict[str, Any]:
        """docs/architecture.md's shape: total, by_region, by_country, rejected, as_of;
        with ``with_cut``, also ``cut``: what each country's numbers cover."""
        parameters = {"petition": petition_id}
        by_region: dict[str, int] = {}
        by_country: dict[str, int] = {}
        pending: dict[str, int] = {}
        cuts: dict[str, Any] = {}
        for region, country, n, waiting, cut in self._current(petition_id, with_cut=with_cut):
            cuts[country] = json.loads(cut) if cut else None
            if waiting:
                pending[region] = pending.get(region, 0) + waiting
            if not n:  # only pending signatures there so far
                continue
            by_region[region] = by_region.get(region, 0) + n
            by_country[country] = n
        reasons = self.client.query(
            f"SELECT reason, count() FROM {self.db}.rejections FINAL "
            "WHERE petition_id = {petition:String} GROUP BY reason",
            parameters=parameters,
        ).result_rows
        rejected = {reason.value: 0 for reason in Reason}
        rejected.update({str(reason): int(n) for reason, n in reasons})
        return {
            "petition_id": petition_id,
            "total": sum(by_country.values()),
            "by_region": dict(sorted(by_region.items(), key=lambda kv: -kv[1])),
            "by_country": dict(sorted(by_country.items(), key=lambda kv: -kv[1])),
            "rejected": rejected,
            # Accepted, waiting for their signers to confirm (not in ``total``).
            "pending": sum(pending.values()),
            "pending_by_region": dict(sorted(pending.items(), key=lambda kv: -kv[1])),
            "as_of": datetime.now(UTC).isoformat(timespec="milliseconds"),
        } | ({"cut": cuts} if with_cut else {})

    def timeline(self, petition_id: str, minutes: int, bucket: Bucket = "minute") -> dict[str, Any]:
        """The rate chart's data: counted signatures (event time) of the last
        ``minutes`` per bucket and region, oldest first, only buckets that have any;
        and the rate now. One query per part, so the dashboard's poller costs two
        queries per schedule, whatever the bucket."""
        parameters: dict[str, Any] = {"petition": petition_id, "minutes": minutes}
        rows = self.client.query(
            f"SELECT {BUCKETS[bucket]}(minute) AS at, region, sum(signatures) "
            f"FROM {self.db}.signatures_per_minute "
            "WHERE petition_id = {petition:String} "
            "AND minute > now() - toIntervalMinute({minutes:UInt32}) "
            "GROUP BY at, region ORDER BY at, region",
            parameters=parameters,
        ).result_rows
        points: dict[datetime, dict[str, Any]] = {}
        for at, region, n in rows:
            point = points.setdefault(at, {"signatures": 0, "by_region": {}})
            point["signatures"] += int(n)
            point["by_region"][str(region)] = int(n)
        last_minute, last_hour = self.client.query(
            "SELECT countIf(submitted_at > now() - 60), count() "
            f"FROM {self.db}.signature_status WHERE petition_id = {{petition:String}} "
            "AND counted AND submitted_at > now() - 3600",
            parameters=parameters,
        ).result_rows[0]
        return {
            "petition_id": petition_id,
            "bucket": bucket,
            "points": [
                {"at": at.replace(tzinfo=UTC).isoformat(), **point} for at, point in points.items()
            ],
            "rate": {"last_minute": int(last_minute), "last_hour": int(last_hour)},
        }
