"""The migrations in their ClickHouse-cluster form (``COUNTERSIGN_CLICKHOUSE_CLUSTER``).

The migration files are written once, for one server. On a cluster each table ``t``
becomes two: ``t_local``, a Replicated table on every node (its engine's replicated
twin, its path under ``/clickhouse/tables/{shard}``), and ``t``, a Distributed table
over them that every query and insert uses, so that nothing else changes names. The
Distributed table shards rows by a hash of the local table's sorting key: rows that a
ReplacingMergeTree collapses (a signature delivered twice) land on one shard, where
``FINAL`` collapses them. Every DDL statement runs ``ON CLUSTER``.

``ClusterForm`` reads the migrations in order and remembers each table's sorting key,
because a later statement (an ``EXCHANGE``, an ``ALTER``) needs it. Pure text in, text
out: ``tests/unit/test_cluster_migrations.py`` pins each rule, and
``tests/integration/test_cluster_migrations_parse.py`` has ClickHouse parse every
statement of every migration.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

LOCAL = "_local"

_CREATE_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (?P<table>\S+)\s*(?P<body>\(.*)", re.S)
_ENGINE = re.compile(
    r"\s*ENGINE = (?P<engine>\w*MergeTree)(?:\((?P<args>[^)]*)\))?\s*"
    r"(?P<rest>ORDER BY (?P<order>\([^)]*\)|\S+).*)",
    re.S,
)
_CREATE_DATABASE = re.compile(r"CREATE DATABASE IF NOT EXISTS (?P<database>\S+)$", re.S)
_CREATE_VIEW = re.compile(r"(?P<head>CREATE (?:OR REPLACE )?VIEW (?:IF NOT EXISTS )?\S+)", re.S)
_ALTER = re.compile(r"ALTER TABLE (?P<table>\S+)\s+(?P<clauses>.*)", re.S)
_DROP = re.compile(r"DROP TABLE (?P<if_exists>IF EXISTS )?(?P<table>\S+)$", re.S)
_EXCHANGE = re.compile(r"EXCHANGE TABLES (?P<a>\S+) AND (?P<b>\S+)$", re.S)
_INSERT = re.compile(r"INSERT INTO ", re.S)
#: A setting only a non-replicated MergeTree takes (Replicated ones deduplicate inserts
#: by their own window).
_NON_REPLICATED_SETTING = re.compile(
    r"\s*SETTINGS non_replicated_deduplication_window = \d+\s*$|"
    r"non_replicated_deduplication_window = \d+,\s*|,\s*non_replicated_deduplication_window = \d+"
)


def _unquoted(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """Each character outside single quotes, with the parenthesis depth after it."""
    depth, quoted = 0, False
    for i in range(start, len(text)):
        char = text[i]
        if char == "'":
            quoted = not quoted
        elif not quoted:
            depth += {"(": 1, ")": -1}.get(char, 0)
            yield i, char, depth


def closing_parenthesis(text: str, start: int) -> int:
    """The index of the parenthesis that closes the one at ``start``."""
    for i, char, depth in _unquoted(text, start):
        if char == ")" and depth == 0:
            return i
    raise ValueError(f"unbalanced parentheses: {text[start : start + 80]}")


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """``text`` split at ``separator`` outside parentheses and quotes."""
    parts, start = [], 0
    for i, char, depth in _unquoted(text):
        if char == separator and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


@dataclass
class ClusterForm:
    """Rewrites one server's statements for ``cluster`` (its name in remote_servers)."""

    cluster: str
    #: The sharding expression of each Distributed table: a hash of its sorting key.
    sharding: dict[str, str] = field(default_factory=dict)

    @property
    def on_cluster(self) -> str:
        return f"ON CLUSTER '{self.cluster}'"

    def statements(self, statement: str) -> list[str]:
        """The cluster form of one statement (one or more statements)."""
        statement = statement.strip()
        for pattern, rewrite in (
            (_CREATE_DATABASE, self._database),
            (_CREATE_TABLE, self._table),
            (_ALTER, self._alter),
            (_DROP, self._drop),
            (_EXCHANGE, self._exchange),
        ):
            match = pattern.match(statement)
            if match:
                return rewrite(match)
        if _CREATE_VIEW.match(statement):
            return [_CREATE_VIEW.sub(rf"\g<head> {self.on_cluster}", statement, count=1)]
        if _INSERT.match(statement):
            return [statement]  # through the Distributed table, once, not on every node
        raise ValueError(f"no cluster form for: {statement[:80]}")

    def _database(self, match: re.Match[str]) -> list[str]:
        return [f"CREATE DATABASE IF NOT EXISTS {match['database']} {self.on_cluster}"]

    def _table(self, match: re.Match[str]) -> list[str]:
        table, body = match["table"], match["body"]
        end = closing_parenthesis(body, 0)
        columns, engine = body[: end + 1], _ENGINE.match(body[end + 1 :])
        if engine is None:
            raise ValueError(f"no MergeTree engine with an ORDER BY in {table}")
        database, name = table.split(".", 1)
        path = f"'/clickhouse/tables/{{shard}}/{database}/{name}{LOCAL}', '{{replica}}'"
        arguments = f"{path}, {engine['args']}" if engine["args"] else path
        rest = _NON_REPLICATED_SETTING.sub("", engine["rest"]).rstrip()
        order = engine["order"]
        self.sharding[table] = f"cityHash64{order if order.startswith('(') else f'({order})'}"
        return [
            f"CREATE TABLE IF NOT EXISTS {table}{LOCAL} {self.on_cluster}\n"
            f"{columns}\nENGINE = Replicated{engine['engine']}({arguments})\n{rest}",
            self._distributed(table),
        ]

    def _distributed(self, table: str) -> str:
        database, name = table.split(".", 1)
        return (
            f"CREATE TABLE IF NOT EXISTS {table} {self.on_cluster} AS {table}{LOCAL}\n"
            f"ENGINE = Distributed('{self.cluster}', '{database}', '{name}{LOCAL}', "
            f"{self.sharding[table]})"
        )

    def _alter(self, match: re.Match[str]) -> list[str]:
        """Every clause on the local tables; the column clauses on the Distributed one
        too (it has no sorting key to modify)."""
        table, clauses = match["table"], split_top_level(match["clauses"])
        statements = [
            f"ALTER TABLE {table}{LOCAL} {self.on_cluster}\n    " + ",\n    ".join(clauses)
        ]
        columns = [c for c in clauses if re.match(r"(ADD|MODIFY|DROP|RENAME) COLUMN", c)]
        if columns:
            statements.append(
                f"ALTER TABLE {table} {self.on_cluster}\n    " + ",\n    ".join(columns)
            )
        return statements

    def _drop(self, match: re.Match[str]) -> list[str]:
        table = match["table"]
        self.sharding.pop(table, None)
        return [
            f"DROP TABLE IF EXISTS {name} {self.on_cluster} SYNC"
            for name in (table, f"{table}{LOCAL}")
        ]

    def _exchange(self, match: re.Match[str]) -> list[str]:
        """The local tables swap their data; each Distributed table is made again over
        its name's local table, with that table's columns and sharding."""
        a, b = match["a"], match["b"]
        self.sharding[a], self.sharding[b] = self.sharding[b], self.sharding[a]
        return [
            f"EXCHANGE TABLES {a}{LOCAL} AND {b}{LOCAL} {self.on_cluster}",
            *(f"DROP TABLE IF EXISTS {t} {self.on_cluster} SYNC" for t in (a, b)),
            self._distributed(a),
            self._distributed(b),
        ]
