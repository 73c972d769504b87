"""What the API and dashboard read from ClickHouse.

Signature totals come from one place: ``regional_counts``, the Faust aggregate's exact
totals (per petition and country, the row with the largest version). ``recount`` reads ClickHouse's
own count of the ``signatures`` rows, an independent cross-check that ``reconcile``
and the tests compare, never a second source for the API. Rejections are counted
once per source position (``FINAL``), so repeated deliveries never show."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from streams.rules.reasons import Reason

#: The current numbers of a (petition, country) in ``regional_counts``: the row with
#: the largest version (rows from before versions have 0: the largest number wins).
CURRENT_SIGNATURES = "argMax(signatures, (version, signatures))"
CURRENT_PENDING = "argMax(pending, (version, signatures))"


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

    def by_country(self, petition_id: str) -> list[tuple[str, str, int]]:
        """``(region, country, signatures)``: the aggregate's totals."""
        return self._per_country(CURRENT_SIGNATURES, "regional_counts", petition_id)

    def pending_by_country(self, petition_id: str) -> list[tuple[str, str, int]]:
        """``(region, country, pending)``: signatures waiting for confirmation."""
        return self._per_country(CURRENT_PENDING, "regional_counts", petition_id)

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

    def counts(self, petition_id: str) -> dict[str, Any]:
        """docs/architecture.md's shape: total, by_region, by_country, rejected, as_of."""
        parameters = {"petition": petition_id}
        rows = self.by_country(petition_id)
        by_region: dict[str, int] = {}
        by_country: dict[str, int] = {}
        for region, country, n in rows:
            if not n:  # only pending signatures there so far
                continue
            by_region[region] = by_region.get(region, 0) + int(n)
            by_country[country] = int(n)
        pending: dict[str, int] = {}
        for region, _country, n in self.pending_by_country(petition_id):
            if n:
                pending[region] = pending.get(region, 0) + int(n)
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
        }

    def timeline(self, petition_id: str, minutes: int = 180) -> list[dict[str, Any]]:
        """Signatures per minute (event time) over the last ``minutes`` that have any."""
        rows = self.client.query(
            f"SELECT minute, sum(signatures) FROM {self.db}.signatures_per_minute "
            "WHERE petition_id = {petition:String} GROUP BY minute ORDER BY minute DESC "
            "LIMIT {minutes:UInt32}",
            parameters={"petition": petition_id, "minutes": minutes},
        ).result_rows
        return [
            {"minute": minute.replace(tzinfo=UTC).isoformat(), "signatures": int(n)}
            for minute, n in reversed(rows)
        ]
