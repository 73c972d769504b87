"""ClickHouse's own parser (the real engine, chDB) reads every statement of the
migrations' cluster form; no cluster runs here, so this is as far as it goes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

from sinks.clickhouse.client import connect
from sinks.clickhouse.migrate import all_statements


@pytest.fixture
def clickhouse(clickhouse_dsn: str) -> Iterator[Client]:
    client = connect(clickhouse_dsn)
    yield client
    client.close()


def parses(client: Client, statement: str) -> str:
    return str(client.command("SELECT formatQuery({q:String})", parameters={"q": statement}))


@pytest.mark.parametrize("statement", all_statements("countersign", "main"))
def test_every_statement_of_the_cluster_form_parses(clickhouse: Client, statement: str) -> None:
    formatted = parses(clickhouse, statement)
    if not statement.startswith("INSERT"):
        assert "ON CLUSTER main" in formatted


def test_the_parser_refuses_a_broken_statement(clickhouse: Client) -> None:
    """A control for the test above: formatQuery parses, it does not echo."""
    with pytest.raises(Exception, match="Syntax error"):
        parses(clickhouse, "CREATE TABLE db.t ON CLUSTER 'main' (x UInt8")
