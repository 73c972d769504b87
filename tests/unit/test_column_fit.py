"""A value its ClickHouse column cannot hold is named (never shown), so the sink can
skip its record instead of retrying the batch forever."""

from __future__ import annotations

from typing import Any

import pytest

from sinks.clickhouse.columns import row_problem, value_problem


@pytest.mark.parametrize(
    ("column_type", "value"),
    [
        ("UInt16", 65535),
        ("UInt16", 0),
        ("Int16", -32768),
        ("UInt64", 2**64 - 1),
        ("FixedString(64)", "ab" * 32),
        ("Nullable(String)", None),
        ("LowCardinality(Nullable(String))", None),
        ("LowCardinality(String)", "x" * 10_000),
        ("DateTime64(3, 'UTC')", "anything the check does not know"),
    ],
)
def test_a_value_the_column_holds_has_no_problem(column_type: str, value: Any) -> None:
    assert value_problem(column_type, value) is None


@pytest.mark.parametrize(
    ("column_type", "value"),
    [
        ("UInt16", 70_000),
        ("UInt16", -1),
        ("UInt32", 2**32),
        ("Int16", 32768),
        ("UInt64", -5),
        ("FixedString(64)", "a" * 300),
        ("FixedString(2)", "ÉÉ"),  # 4 bytes in UTF-8
        ("String", None),
        ("LowCardinality(String)", None),
    ],
)
def test_a_value_the_column_cannot_hold_is_named(column_type: str, value: Any) -> None:
    assert value_problem(column_type, value) is not None


def test_the_problem_names_the_column_not_the_value() -> None:
    problem = row_problem(
        ["String", "FixedString(64)"], ["full_name", "email_hash"], ["Ana", "secret" * 20]
    )
    assert problem is not None
    assert problem.startswith("email_hash:")
    assert "secret" not in problem
