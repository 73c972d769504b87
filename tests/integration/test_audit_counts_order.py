"""What ``/ops/counts`` answers comes in one order every time: the replay waits until
it stops moving, and the same numbers in another order looked like a move (a GROUP BY
alone answers in any order; the replay once waited 1:53 for nothing)."""

from datetime import UTC, datetime

from sinks.clickhouse.audit import AuditQueries
from sinks.clickhouse.client import connect
from sinks.clickhouse.migrate import migrate
from sinks.clickhouse.rows import REGIONAL_COUNT_COLUMNS, REJECTION_COLUMNS
from streams.core.settings import Settings

PETITIONS = [f"petition-{n}" for n in range(4)]
COUNTRIES = [f"{chr(65 + a)}{chr(65 + b)}" for a in range(12) for b in range(15)]  # 180
REASONS = ["malformed", "duplicate", "closed", "unknown_petition"]


def test_the_counts_come_in_the_same_sorted_order_every_time(sink_settings: Settings) -> None:
    client = connect(sink_settings.clickhouse_target)
    database = sink_settings.clickhouse_database
    migrate(client, database)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    # One insert per petition: several parts, as a live sink leaves them.
    for petition in PETITIONS:
        client.insert(
            f"{database}.regional_counts",
            [[petition, "Region", country, 7, 1, 3, now, ""] for country in COUNTRIES],
            column_names=REGIONAL_COUNT_COLUMNS,
        )
        partition = PETITIONS.index(petition)  # rejections collapse by source position
        client.insert(
            f"{database}.rejections",
            [
                [petition, reason, "x", None, now, "t", partition, offset, 0]
                for offset, reason in enumerate(REASONS * 5)
            ],
            column_names=REJECTION_COLUMNS,
        )
    audit = AuditQueries(client, database)
    answers = [audit.counts() for _ in range(15)]
    expected_keys = sorted((p, "Region", c) for p in PETITIONS for c in COUNTRIES)
    assert [tuple(row[:3]) for row in answers[0]["aggregate"]] == expected_keys
    assert [tuple(row[:2]) for row in answers[0]["rejected"]] == sorted(
        (p, r) for p in PETITIONS for r in REASONS
    )
    assert all(answer == answers[0] for answer in answers)
