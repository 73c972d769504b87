"""Versioned migrations: ``migrations/NNNN_name.sql`` applied in order, once each.

Each file is a list of statements separated by ``;`` at the end of a line, with
``{database}`` standing for the database (``countersign`` unless configured: tests
use one database each). Applied versions are recorded in
``<database>.schema_migrations``; running ``migrate`` again
applies nothing. Statements use ``IF NOT EXISTS`` so a migration interrupted half way
can simply run again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.client import Client

from sinks.clickhouse.cluster import ClusterForm

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]

    @classmethod
    def load(cls, path: Path) -> Migration:
        match = _FILE.match(path.name)
        if match is None:
            raise ValueError(f"{path.name}: migrations are named NNNN_name.sql")
        text = "\n".join(
            line for line in path.read_text().splitlines() if not line.lstrip().startswith("--")
        )
        statements = tuple(s.strip() for s in re.split(r";\s*$", text, flags=re.M) if s.strip())
        return cls(int(match["version"]), match["name"], statements)


def migrations() -> list[Migration]:
    return sorted(
        (Migration.load(p) for p in MIGRATIONS_DIR.glob("*.sql")), key=lambda m: m.version
    )


def applied_versions(client: Client, database: str) -> set[int]:
    rows = client.query(f"SELECT version FROM {database}.schema_migrations FINAL").result_rows
    return {int(row[0]) for row in rows}


def pending(client: Client, database: str) -> list[Migration]:
    """The migrations not applied yet (all of them before the first ``migrate``), read
    without writing anything: what a read-only API replica may ask."""
    exists = client.command(
        "SELECT count() FROM system.tables WHERE database = {db:String} "
        "AND name = 'schema_migrations'",
        parameters={"db": database},
    )
    done = applied_versions(client, database) if int(str(exists)) else set()
    return [m for m in migrations() if m.version not in done]


def statements_of(migration: Migration, database: str) -> list[str]:
    return [statement.replace("{database}", database) for statement in migration.statements]


def bootstrap_statements(database: str) -> list[str]:
    """The database and the table that records the migrations, before any migration."""
    return [
        f"CREATE DATABASE IF NOT EXISTS {database}",
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = ReplacingMergeTree ORDER BY version",
    ]


def written_for(cluster: str) -> Callable[[str], list[str]]:
    """How a statement is written: for ``cluster`` (``sinks.clickhouse.cluster``, which
    remembers the tables it has seen), or as it is for one server."""
    return ClusterForm(cluster).statements if cluster else lambda statement: [statement]


def all_statements(database: str, cluster: str = "") -> list[str]:
    """Every statement a fresh database gets, in the server's or the cluster's form
    (``countersign migrate --print``)."""
    rewrite = written_for(cluster)
    plain = bootstrap_statements(database)
    for migration in migrations():
        plain += statements_of(migration, database)
    return [written for statement in plain for written in rewrite(statement)]


def migrate(client: Client, database: str, cluster: str = "") -> list[Migration]:
    """Apply every migration not yet recorded; return those applied now. With
    ``cluster``, in its cluster form."""
    rewrite = written_for(cluster)
    for statement in bootstrap_statements(database):
        for written in rewrite(statement):
            client.command(written)
    done = applied_versions(client, database)
    applied = []
    for migration in migrations():
        # Applied ones are rewritten too, unrun: a cluster form needs what they made.
        statements = [w for s in statements_of(migration, database) for w in rewrite(s)]
        if migration.version in done:
            continue
        for written in statements:
            client.command(written)
        client.insert(
            f"{database}.schema_migrations",
            [[migration.version, migration.name]],
            column_names=["version", "name"],
        )
        log.info("applied migration %04d_%s", migration.version, migration.name)
        applied.append(migration)
    return applied
