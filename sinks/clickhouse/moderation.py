"""What ops ask of ClickHouse to see and undo fraud (through serve's /ops routes):
where a petition's signatures came from lately against their usual mix, the signers
an ``invalidate`` selects, and the signers of an earlier batch (``reinstate``)."""

from __future__ import annotations

import ipaddress
from typing import Any

from clickhouse_connect.driver.client import Client

from sinks.clickhouse.audit import jsonable

#: What ``sources`` breaks signatures down by, with the column of each.
SOURCE_COLUMNS = {
    "domain": "email_domain",
    "network": "ifNull(network, '(none)')",
    "user_agent": "ifNull(user_agent, '(none)')",
}


class ModerationQueries:
    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.db = database

    def sources(
        self, petition_id: str, *, hours: float, baseline_hours: float, top: int
    ) -> dict[str, list[dict[str, Any]]]:
        """Per kind (domain, network, user agent): the ``top`` sources of the
        signatures accepted in the last ``hours``, each with its share then and its
        share over the ``baseline_hours`` before (how unusual it is)."""
        found: dict[str, list[dict[str, Any]]] = {}
        for kind, column in SOURCE_COLUMNS.items():
            rows = self.client.query(
                f"SELECT {column} AS source, "
                "countIf(accepted_at >= now64(3) - toIntervalSecond({recent:UInt32})) AS recent, "
                "countIf(accepted_at < now64(3) - toIntervalSecond({recent:UInt32})) AS before "
                f"FROM {self.db}.signatures FINAL "
                "WHERE petition_id = {petition:String} AND accepted_at >= "
                "now64(3) - toIntervalSecond({recent:UInt32} + {baseline:UInt32}) "
                "GROUP BY source ORDER BY recent DESC, before DESC LIMIT {top:UInt32}",
                parameters={
                    "petition": petition_id,
                    "recent": round(hours * 3600),
                    "baseline": round(baseline_hours * 3600),
                    "top": top,
                },
            ).result_rows
            found[kind] = [
                {"source": str(source), "recent": int(recent), "before": int(before)}
                for source, recent, before in rows
            ]
        return found

    def targets(
        self,
        petition_id: str,
        *,
        domain: str | None = None,
        ip_prefix: str | None = None,
        signature_ids: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The accepted signatures one of the selectors names, that count now or wait
        for confirmation (not those invalidated already)."""
        conditions, parameters = [], {"petition": petition_id}
        if domain is not None:
            conditions.append("email_domain = {domain:String}")
            parameters["domain"] = domain.strip().lower()
        if ip_prefix is not None:
            conditions.append(
                "network IS NOT NULL AND isIPAddressInRange("
                "splitByChar('/', assumeNotNull(network))[1], {prefix:String})"
            )
            parameters["prefix"] = str(ipaddress.ip_network(ip_prefix, strict=False))
        if signature_ids is not None:
            conditions.append("signature_id IN {ids:Array(String)}")
            parameters["ids"] = signature_ids  # type: ignore[assignment]
        if not conditions:
            raise ValueError("a selector is needed: a domain, an IP prefix or signature ids")
        rows = self.client.query(
            "SELECT email_hash, signature_id, home_partition, country "
            f"FROM {self.db}.signature_status WHERE petition_id = {{petition:String}} "
            f"AND NOT is_invalidated AND ({' OR '.join(conditions)})",
            parameters=parameters,
        ).named_results()
        return [jsonable(row) for row in rows]

    def batch(self, batch_id: str) -> list[dict[str, Any]]:
        """The signers a moderation batch invalidated and still holds out: those
        whose latest moderation is this batch's (a later batch that invalidated
        them again keeps them out), with their partitions."""
        rows = self.client.query(
            "SELECT m.petition_id AS petition_id, m.email_hash AS email_hash, "
            "m.signature_id AS signature_id, s.home_partition AS home_partition, "
            "s.country AS country "
            f"FROM {self.db}.moderations AS m FINAL "
            f"INNER JOIN {self.db}.signatures AS s FINAL "
            "ON s.petition_id = m.petition_id AND s.email_hash = m.email_hash "
            "WHERE m.batch_id = {batch:String} AND m.action = 'invalidate' "
            "AND (m.petition_id, m.email_hash) IN ("
            f"  SELECT petition_id, email_hash FROM {self.db}.moderations FINAL "
            "  GROUP BY petition_id, email_hash "
            "  HAVING argMax(tuple(batch_id, action), at) = tuple({batch:String}, 'invalidate')"
            ")",
            parameters={"batch": batch_id},
        ).named_results()
        return [jsonable(row) for row in rows]

    def history(self, petition_id: str) -> list[dict[str, Any]]:
        """Every moderation batch of a petition: who, when, why, how many."""
        rows = self.client.query(
            "SELECT batch_id, action, any(reason) AS reason, any(actor) AS actor, "
            "min(at) AS at, count() AS signatures "
            f"FROM {self.db}.moderations FINAL WHERE petition_id = {{petition:String}} "
            "GROUP BY batch_id, action ORDER BY at",
            parameters={"petition": petition_id},
        ).named_results()
        return [jsonable(row) for row in rows]
