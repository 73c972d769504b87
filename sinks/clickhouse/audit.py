"""What the audit tools ask of ClickHouse, through ``countersign serve``'s /ops routes.

Every signature read here is read ``FINAL``: a row delivered twice is one row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from sinks.clickhouse.queries import CURRENT_CUT, CURRENT_PENDING, CURRENT_SIGNATURES
from streams.rules.cut import Cut


def _covered(cut: Cut, home_column: str) -> str:
    """A SQL condition: the row's submission is covered by ``cut`` at the home partition
    in ``home_column``. Only integers from a parsed ``Cut`` go in."""
    terms = [
        f"({home_column} = {int(home)} AND source_partition = {int(partition)} "
        f"AND (source_offset, source_index) < ({int(offset)}, {int(index)}))"
        for home, home_cut in cut.homes.items()
        for partition, (offset, index) in home_cut.submitted.items()
    ]
    return " OR ".join(terms) or "0"


#: A signature's place in the audit log, the tables' common language.
POSITION = "source_topic, source_partition, source_offset, source_index"
SIGNER_COLUMNS = (
    "signature_id, full_name, country, region, submitted_at, email_hash, data_key_id, "
    # A sealed name (docs/privacy.md) as text a JSON answer can carry; the export
    # opens it with the signer's key.
    "base64Encode(ifNull(personal, '')) AS personal, " + POSITION.replace("source_topic, ", "")
)


class AuditQueries:
    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.db = database

    def counts(self) -> dict[str, list[list[Any]]]:
        """Every petition's numbers as ClickHouse holds them: the aggregate's totals
        (``regional_counts``) and ClickHouse's own count of the signature rows, each
        as (petition, region, country, counted, pending), and the rejections per
        reason. In a fixed order: a GROUP BY alone answers in any order, and the
        replay, waiting for these to stop moving, saw the same numbers in a new order
        as a move (it waited up to 1:53 for nothing, and a test failed on it)."""
        aggregate = self.client.query(
            f"SELECT petition_id, region, country, {CURRENT_SIGNATURES}, {CURRENT_PENDING}, "
            f"{CURRENT_CUT} FROM {self.db}.regional_counts GROUP BY petition_id, region, country "
            "ORDER BY petition_id, region, country"
        ).result_rows
        recount = self.client.query(
            "SELECT petition_id, region, country, sum(signatures), sum(pending) "
            f"FROM {self.db}.signature_counts GROUP BY petition_id, region, country "
            "ORDER BY petition_id, region, country"
        ).result_rows
        rejected = self.client.query(
            f"SELECT petition_id, reason, count() FROM {self.db}.rejections FINAL "
            "GROUP BY petition_id, reason ORDER BY petition_id, reason"
        ).result_rows
        return {
            "aggregate": [
                [str(p), str(r), str(c), int(n), int(w), str(cut)]
                for p, r, c, n, w, cut in aggregate
            ],
            "recount": [[str(p), str(r), str(c), int(n), int(w)] for p, r, c, n, w in recount],
            "rejected": [[str(p), str(r), int(n)] for p, r, n in rejected],
        }

    def counts_at(self, cut: Cut, submitted_topic: str) -> dict[str, list[list[Any]]]:
        """What the row-level tables hold up to ``cut`` (``rules.cut``): signature rows
        per (petition, region, country), whatever their status, and rejections per
        (petition, reason), of the submissions the cut covers: a duplicate by its
        signer's home partition, any other by the partition it was read from."""
        signature_rows = self.client.query(
            f"SELECT petition_id, region, country, count() FROM {self.db}.signatures FINAL "
            f"WHERE source_topic = {{topic:String}} AND ({_covered(cut, 'home_partition')}) "
            "GROUP BY petition_id, region, country ORDER BY petition_id, region, country",
            parameters={"topic": submitted_topic},
        ).result_rows
        rejected = self.client.query(
            f"SELECT petition_id, reason, count() FROM {self.db}.rejections FINAL "
            "WHERE source_topic = {topic:String} AND ("
            f"(reason = 'duplicate' AND ({_covered(cut, 'home_partition')})) OR "
            f"(reason != 'duplicate' AND ({_covered(cut, 'source_partition')}))"
            ") GROUP BY petition_id, reason ORDER BY petition_id, reason",
            parameters={"topic": submitted_topic},
        ).result_rows
        return {
            "signatures": [[str(p), str(r), str(c), int(n)] for p, r, c, n in signature_rows],
            "rejected": [[str(p), str(r), int(n)] for p, r, n in rejected],
        }

    def signers(
        self, petition_id: str, *, until: datetime, after: list[Any] | None, limit: int
    ) -> list[dict[str, Any]]:
        """Signers who consented to publication, in submission order (their
        ``submitted_at``, then their place in the log), accepted by ``until``, after
        the signer ``after`` (its ``[submitted_at, partition, offset, index]``): pages
        by key, so rows the sink adds meanwhile never shift a page."""
        after = after or [datetime(1970, 1, 1, tzinfo=UTC), 0, 0, 0]
        result = self.client.query(
            f"SELECT {SIGNER_COLUMNS} FROM {self.db}.signature_status "
            "WHERE petition_id = {petition:String} AND counted AND consent_to_publish_name "
            "AND accepted_at <= {until:DateTime64(3)} "
            "AND (submitted_at, source_partition, source_offset, source_index) > "
            "({at:DateTime64(3)}, {p:UInt16}, {o:UInt64}, {i:UInt32}) "
            "ORDER BY submitted_at, source_partition, source_offset, source_index "
            "LIMIT {limit:UInt64}",
            parameters={
                "petition": petition_id,
                "until": until,
                "at": after[0],
                "p": after[1],
                "o": after[2],
                "i": after[3],
                "limit": limit,
            },
        )
        return [jsonable(row) for row in result.named_results()]

    def signature(self, petition_id: str, email_hash: str) -> dict[str, Any] | None:
        """The row that won a dedupe key, if any."""
        result = self.client.query(
            f"SELECT petition_id, signature_id, email_hash, full_name, consent_to_publish_name, "
            "country, "
            f"region, submitted_at, accepted_at, {POSITION} FROM {self.db}.signatures FINAL "
            "WHERE petition_id = {petition:String} AND email_hash = {hash:String}",
            parameters={"petition": petition_id, "hash": email_hash},
        )
        rows = list(result.named_results())
        return jsonable(rows[0]) if rows else None

    def confirmed_at(self, petition_id: str, email_hash: str) -> datetime | None:
        """When a signer first confirmed their signature, if they did."""
        rows = self.client.query(
            f"SELECT min(confirmed_at) FROM {self.db}.confirmations "
            "WHERE petition_id = {petition:String} AND email_hash = {hash:String} "
            "HAVING count() > 0",
            parameters={"petition": petition_id, "hash": email_hash},
        ).result_rows
        return rows[0][0].replace(tzinfo=UTC) if rows else None

    def rejections_at(
        self, topic: str, positions: list[tuple[int, int, int]]
    ) -> list[dict[str, Any]]:
        """The rejection rows (reasons ``duplicate`` included) of these log positions."""
        if not positions:
            return []
        result = self.client.query(
            f"SELECT petition_id, reason, detail, signature_id, received_at, {POSITION} "
            f"FROM {self.db}.rejections FINAL WHERE source_topic = {{topic:String}} AND "
            "(source_partition, source_offset, source_index) IN "
            "{positions:Array(Tuple(UInt16, UInt64, UInt32))}",
            parameters={"topic": topic, "positions": positions},
        )
        return [jsonable(row) for row in result.named_results()]


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """Times as ISO text, FixedString columns (bytes) as text."""
    return {
        k: v.isoformat() if hasattr(v, "isoformat") else v.decode() if isinstance(v, bytes) else v
        for k, v in row.items()
    }
