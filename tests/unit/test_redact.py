"""``redact_dsn``: an address of a store as it may be logged, never with its password."""

from __future__ import annotations

import pytest

from streams.core.redact import redact_dsn


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        (
            "https://default:s3cr3t@ch.example:8443/countersign",
            "https://default:***@ch.example:8443/countersign",
        ),
        ("clickhouse://reader:@ch.example", "clickhouse://reader:***@ch.example"),
        (
            "http://ch.example:8123/?user=u&password=pw&secure=1",
            "http://ch.example:8123/?user=u&password=***&secure=1",
        ),
        (
            "SASL_SSL://svc:k-pass@k1:9093,SASL_SSL://svc:k-pass@k2:9093",
            "SASL_SSL://svc:***@k1:9093,SASL_SSL://svc:***@k2:9093",
        ),
    ],
)
def test_passwords_are_replaced_and_the_rest_kept(dsn: str, shown: str) -> None:
    assert redact_dsn(dsn) == shown


@pytest.mark.parametrize(
    "dsn",
    [
        "chdb:///srv/countersign/.data/clickhouse",
        "http://ch.example:8123",
        "http://reader@ch.example:8123",
        "127.0.0.1:9092,10.0.0.2:9092",
    ],
)
def test_an_address_without_a_password_is_unchanged(dsn: str) -> None:
    assert redact_dsn(dsn) == dsn


@pytest.mark.parametrize("password", ["p@ss", "pa/ss", "p:a:ss", "p@ss/w:rd"])
def test_a_password_with_separators_in_it_is_hidden_whole(password: str) -> None:
    shown = redact_dsn(f"https://default:{password}@ch.example:8443/db")
    assert shown == "https://default:***@ch.example:8443/db"
