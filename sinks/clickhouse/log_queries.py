"""What the API reads of the petitions' public logs (``log_leaves``, ``log_heads``:
migration 0008, written by the sink from the log writer's topics)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from clickhouse_connect.driver.client import Client


@dataclass(frozen=True)
class SignedHead:
    tree_size: int
    signatures: int
    note: str
    signed_at: datetime


class LogReader:
    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.db = database

    def head(self, petition_id: str) -> SignedHead | None:
        """The newest signed head of a petition's log (the largest, then the latest)."""
        rows = self.client.query(
            f"SELECT tree_size, signatures, note, signed_at FROM {self.db}.log_heads "
            "WHERE petition_id = {petition:String} "
            "ORDER BY tree_size DESC, signed_at DESC LIMIT 1",
            parameters={"petition": petition_id},
        ).result_rows
        return SignedHead(*rows[0]) if rows else None

    def leaves(self, petition_id: str, start: int, end: int) -> list[bytes]:
        """Leaves ``[start, end)`` of a petition's log, in order (fewer when the table
        does not hold them all yet)."""
        rows = self.client.query(
            f"SELECT leaf_index, leaf FROM {self.db}.log_leaves FINAL "
            "WHERE petition_id = {petition:String} AND leaf_index >= {start:UInt64} "
            "AND leaf_index < {end:UInt64} ORDER BY leaf_index",
            parameters={"petition": petition_id, "start": start, "end": end},
        ).result_rows
        found: list[bytes] = []
        for index, leaf in rows:
            if index != start + len(found):
                break  # a gap the sink has not filled yet: only what is contiguous
            found.append(bytes.fromhex(leaf))
        return found

    def index_of(self, petition_id: str, leaf: bytes) -> int | None:
        """The index of the latest leaf with these bytes (a signature reinstated after
        its removal is added again)."""
        rows = self.client.query(
            f"SELECT max(leaf_index), count() FROM {self.db}.log_leaves "
            "WHERE petition_id = {petition:String} AND leaf = {leaf:String}",
            parameters={"petition": petition_id, "leaf": leaf.hex()},
        ).result_rows
        index, found = rows[0]
        return int(index) if found else None
