"""The migrations' cluster form (sinks/clickhouse/cluster.py): each rule, on the
statements the migration files use."""

from __future__ import annotations

import re

import pytest

from sinks.clickhouse.cluster import ClusterForm, split_top_level
from sinks.clickhouse.migrate import all_statements

TABLE = """CREATE TABLE IF NOT EXISTS db.counts
(
    petition_id LowCardinality(String),
    at          DateTime64(3, 'UTC'),
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (petition_id, at)
SETTINGS non_replicated_deduplication_window = 10000"""


def test_a_table_becomes_a_replicated_local_table_and_a_distributed_one_over_it() -> None:
    local, distributed = ClusterForm("main").statements(TABLE)
    assert local.startswith("CREATE TABLE IF NOT EXISTS db.counts_local ON CLUSTER 'main'\n(")
    assert "at          DateTime64(3, 'UTC')," in local  # the columns, untouched
    assert (
        "ENGINE = ReplicatedReplacingMergeTree("
        "'/clickhouse/tables/{shard}/db/counts_local', '{replica}', version)"
    ) in local
    assert local.endswith("ORDER BY (petition_id, at)")  # the non-replicated setting is gone
    assert distributed == (
        "CREATE TABLE IF NOT EXISTS db.counts ON CLUSTER 'main' AS db.counts_local\n"
        "ENGINE = Distributed('main', 'db', 'counts_local', cityHash64(petition_id, at))"
    )


def test_an_alter_changes_the_local_tables_and_the_columns_of_the_distributed_one() -> None:
    form = ClusterForm("main")
    form.statements(TABLE)
    local, distributed = form.statements(
        "ALTER TABLE db.counts\n    ADD COLUMN IF NOT EXISTS n UInt32 AFTER at,\n"
        "    MODIFY ORDER BY (petition_id, at, n)"
    )
    assert local == (
        "ALTER TABLE db.counts_local ON CLUSTER 'main'\n"
        "    ADD COLUMN IF NOT EXISTS n UInt32 AFTER at,\n"
        "    MODIFY ORDER BY (petition_id, at, n)"
    )
    assert distributed == (
        "ALTER TABLE db.counts ON CLUSTER 'main'\n    ADD COLUMN IF NOT EXISTS n UInt32 AFTER at"
    )


def test_a_drop_drops_both_tables_everywhere() -> None:
    assert ClusterForm("main").statements("DROP TABLE IF EXISTS db.old") == [
        "DROP TABLE IF EXISTS db.old ON CLUSTER 'main' SYNC",
        "DROP TABLE IF EXISTS db.old_local ON CLUSTER 'main' SYNC",
    ]


def test_an_exchange_swaps_the_local_tables_and_makes_each_distributed_table_again() -> None:
    form = ClusterForm("main")
    form.statements(TABLE)
    form.statements(TABLE.replace("db.counts", "db.counts_v2").replace("(petition_id, at)", "x"))
    statements = form.statements("EXCHANGE TABLES db.counts_v2 AND db.counts")
    assert (
        statements[0] == "EXCHANGE TABLES db.counts_v2_local AND db.counts_local ON CLUSTER 'main'"
    )
    assert statements[1:3] == [
        "DROP TABLE IF EXISTS db.counts_v2 ON CLUSTER 'main' SYNC",
        "DROP TABLE IF EXISTS db.counts ON CLUSTER 'main' SYNC",
    ]
    # db.counts now holds what db.counts_v2 held: its sharding goes with it.
    assert statements[4].endswith("'counts_local', cityHash64(x))")
    assert statements[3].endswith("'counts_v2_local', cityHash64(petition_id, at))")


def test_a_view_is_made_on_every_node_over_the_distributed_tables() -> None:
    (view,) = ClusterForm("main").statements(
        "CREATE OR REPLACE VIEW db.totals AS\nSELECT petition_id, count() FROM db.counts FINAL"
    )
    assert view == (
        "CREATE OR REPLACE VIEW db.totals ON CLUSTER 'main' AS\n"
        "SELECT petition_id, count() FROM db.counts FINAL"
    )


def test_an_insert_runs_once_through_the_distributed_table() -> None:
    insert = "INSERT INTO db.counts SELECT * FROM db.old"
    assert ClusterForm("main").statements(insert) == [insert]


def test_a_statement_without_a_rule_is_refused_not_run_as_it_is() -> None:
    with pytest.raises(ValueError, match="no cluster form"):
        ClusterForm("main").statements("OPTIMIZE TABLE db.counts FINAL")


def test_commas_inside_parentheses_and_quotes_do_not_split() -> None:
    assert split_top_level("ADD COLUMN a Tuple(x, y), MODIFY ORDER BY (a, b), COMMENT 'a, b'") == [
        "ADD COLUMN a Tuple(x, y)",
        "MODIFY ORDER BY (a, b)",
        "COMMENT 'a, b'",
    ]


def test_every_table_of_the_migrations_has_its_local_and_distributed_pair() -> None:
    server = all_statements("db")
    cluster = all_statements("db", "main")
    made = set(re.findall(r"CREATE TABLE IF NOT EXISTS db\.(\w+)", "\n".join(server)))
    locals_ = set(
        re.findall(r"CREATE TABLE IF NOT EXISTS db\.(\w+)_local ON CLUSTER", "\n".join(cluster))
    )
    distributed = set(
        re.findall(r"CREATE TABLE IF NOT EXISTS db\.(\w+) ON CLUSTER 'main' AS", "\n".join(cluster))
    )
    assert made == locals_ == distributed
    ddl = [s for s in cluster if not s.startswith("INSERT")]
    assert all("ON CLUSTER 'main'" in s for s in ddl)
