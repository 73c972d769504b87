"""What the API and dashboard read from ClickHouse. Every count is over distinct
keys (``FINAL`` on the collapsing tables), so repeated deliveries never show."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from streams.rules.reasons import Reason


class CountsReader:
    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.db = database

    def totals(self) -> dict[str, int]:
        rows = self.client.query(
            f"SELECT petition_id, sum(signatures) FROM {self.db}.signature_counts "
            "GROUP BY petition_id"
        ).result_rows
        return {str(petition): int(n) for petition, n in rows}

    def counts(self, petition_id: str) -> dict[str, Any]:
        """ARCHITECTURE.md's shape: total, by_region, by_country, rejected, as_of."""
        parameters = {"petition": petition_id}
        rows = self.client.query(
            f"SELECT region, country, sum(signatures) FROM {self.db}.signature_counts "
            "WHERE petition_id = {petition:String} GROUP BY region, country",
            parameters=parameters,
        ).result_rows
        by_region: dict[str, int] = {}
        by_country: dict[str, int] = {}
        for region, country, n in rows:
            by_region[region] = by_region.get(region, 0) + int(n)
            by_country[country] = int(n)
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
