"""deploy/grafana/countersign.json against the real ClickHouse engine (chDB).

Grafana users only find out that a panel names a column or table the migrations no
longer make when the panel says "No data". Here every query of the dashboard (the
panels and the ``petition`` variable) runs on freshly migrated tables, after rows
were written with the sink's own row functions, and the panels analysts read first
must show what those rows say, computed here without ClickHouse. The rows are made so
that a panel reading the tables differently from sinks/clickhouse/queries.py (a plain
sum or max over ``regional_counts``, a table read without ``FINAL``) shows a wrong
number.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from sinks.clickhouse.client import connect
from sinks.clickhouse.migrate import migrate
from sinks.clickhouse.queries import CURRENT_PENDING, CURRENT_SIGNATURES
from sinks.clickhouse.rows import (
    CONFIRMATION_COLUMNS,
    MODERATION_COLUMNS,
    REGIONAL_COUNT_COLUMNS,
    REJECTION_COLUMNS,
    SIGNATURE_COLUMNS,
    confirmation_row,
    moderation_row,
    regional_count_row,
    rejection_row,
    signature_row,
)

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "countersign.json"
PLUGIN = "grafana-clickhouse-datasource"
#: The plugin's ``format``: what shape Grafana gives the rows (sqlutil.FormatQueryOption).
TIME_SERIES, TABLE = 0, 1

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
#: The dashboard's time range in these tests.
START, END = NOW - timedelta(hours=1), NOW + timedelta(hours=1)
PETITION, OTHER = "p", "other"
COUNTRIES = [
    ("SY", "Middle East and North Africa"),
    ("TR", "Europe and Central Asia"),
    ("BR", "Americas"),
    ("IN", "Asia and the Pacific"),
    ("VN", "Asia and the Pacific"),
]
#: Tables that collapse repeats only when merged: read with FINAL (or argMax).
COLLAPSING = ("signatures", "rejections", "confirmations", "moderations")

_MACRO = re.compile(r"\$__(?P<name>\w+)(?:\((?P<args>[^()]*)\))?")
_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?::(?P<format>\w+))?\}|\$(?P<bare>[A-Za-z]\w*)")


def render(
    sql: str,
    *,
    variables: dict[str, str],
    start: datetime = START,
    end: datetime = END,
    interval_s: int = 60,
) -> str:
    """The SQL that Grafana and the ClickHouse plugin send for a dashboard query.

    Grafana replaces the template variables (``${name}``, ``$name``, and
    ``${name:sqlstring}``, which quotes the value and doubles its single quotes), then
    the plugin expands its macros exactly as its pkg/macros/macros.go does, for those
    the dashboard uses: ``$__timeFilter(col)``, ``$__timeInterval(col)``,
    ``$__interval_s``, ``$__fromTime`` and ``$__toTime``. Anything else raises, so a
    query cannot pass here with text that neither would replace."""
    from_s, to_s = int(start.timestamp()), int(end.timestamp())
    interval = max(interval_s, 1)

    def macro(match: re.Match[str]) -> str:
        name, column = match["name"], (match["args"] or "").strip()
        if name == "timeFilter" and column:
            return f"{column} >= toDateTime({from_s}) AND {column} <= toDateTime({to_s})"
        if name == "timeInterval" and column:
            return f"toStartOfInterval(toDateTime({column}), INTERVAL {interval} second)"
        if name == "interval_s" and match["args"] is None:
            return str(interval)
        if name in ("fromTime", "toTime") and match["args"] is None:
            return f"toDateTime({from_s if name == 'fromTime' else to_s})"
        raise ValueError(f"no stand-in for the macro {match[0]!r}")

    def variable(match: re.Match[str]) -> str:
        name = match["name"] or match["bare"]
        if name not in variables:
            raise ValueError(f"no value for the template variable {match[0]!r}")
        value = variables[name]
        if match["format"] is None:
            return value
        if match["format"] == "sqlstring":
            return "'" + value.replace("'", "''") + "'"
        raise ValueError(f"no stand-in for the variable format {match[0]!r}")

    return _VARIABLE.sub(variable, _MACRO.sub(macro, sql))


# -- the dashboard ---------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels() -> dict[str, dict[str, Any]]:
    return {panel["title"]: panel for panel in dashboard()["panels"]}


def template_variable(name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(v for v in dashboard()["templating"]["list"] if v["name"] == name)
    return found


def panel_sql(title: str) -> str:
    (target,) = panels()[title]["targets"]
    sql: str = target["rawSql"]
    return sql


def every_query() -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, target)`` for each query Grafana sends: the panels' and the variable's."""
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            yield f"panel {panel['title']!r} {target['refId']}", target
    yield "variable petition", {"rawSql": template_variable("petition")["query"]}


def test_every_query_reads_the_tables_as_the_api_does() -> None:
    """The plugin's JSON conventions, and the reading rules of queries.py: the
    aggregate's totals by argMax over (version, signatures), the collapsing tables with
    FINAL, and every panel about the chosen petition."""
    board = dashboard()
    titles = [panel["title"] for panel in board["panels"]]
    assert len(titles) == len(set(titles)), "panel titles name the panels: keep them distinct"
    assert {v["name"] for v in board["templating"]["list"]} >= {"datasource", "petition"}
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": PLUGIN, "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            where = panel["title"]
            assert target["datasource"] == panel["datasource"], where
            assert target["editorType"] == "sql", where
            series = panel["type"] == "timeseries"
            assert target["format"] == (TIME_SERIES if series else TABLE), where
            assert target["queryType"] == ("timeSeries" if series else "table"), where
            sql = target["rawSql"]
            assert "petition_id = ${petition:sqlstring}" in sql, where
            if "${database}.regional_counts" in sql:
                assert CURRENT_SIGNATURES in sql or CURRENT_PENDING in sql, where
            for table in COLLAPSING:
                assert not re.search(rf"\$\{{database\}}\.{table}\b(?!\s+FINAL)", sql), (
                    f"{where}: {table} without FINAL counts a repeat twice until merged"
                )


# -- what was written --------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    petition: str
    n: int
    country: str
    region: str
    submitted_at: datetime
    confirmation_required: bool
    confirmed_at: datetime | None

    @property
    def email_hash(self) -> str:
        return hashlib.sha256(f"{self.petition}/{self.n}".encode()).hexdigest()

    def accepted(self) -> dict[str, Any]:
        """The SignatureAccepted record the sink would read."""
        return {
            "petition_id": self.petition,
            "email_hash": self.email_hash,
            "signature_id": f"{self.petition}-sig-{self.n}",
            "full_name": f"Signer {self.n}",
            "consent_to_publish_name": True,
            "country": self.country,
            "region": self.region,
            "submitted_at": self.submitted_at,
            "accepted_at": self.submitted_at + timedelta(seconds=1),
            "source_topic": "signatures.submitted",
            "source_partition": 0,
            "source_offset": self.n,
            "source_index": 0,
            "confirmation_required": self.confirmation_required,
            "email_domain": "example.org",
            "network": None,
            "user_agent": None,
        }


def signers() -> list[Signer]:
    """60 signers of ``p`` over 36 minutes around NOW (a quarter asked to confirm,
    half of those did), 4 more three hours before (outside the time range), and 10
    of another petition."""
    made = []
    for n in range(64):
        country, region = COUNTRIES[n % len(COUNTRIES)]
        if n < 60:
            at = NOW - timedelta(minutes=30) + timedelta(seconds=37 * n)
        else:
            at = NOW - timedelta(hours=3) + timedelta(seconds=n)
        required = n < 60 and n % 4 == 0
        confirmed = at + timedelta(minutes=5) if required and n % 8 == 0 else None
        made.append(Signer(PETITION, n, country, region, at, required, confirmed))
    made += [
        Signer(OTHER, n, "SY", COUNTRIES[0][1], NOW + timedelta(seconds=n), False, None)
        for n in range(10)
    ]
    return made


#: (petition, batch, action, minutes after NOW, signers): 1 and 3 end invalidated, 2
#: reinstated, 8 (confirmed) and 12 (pending) invalidated; signer 0 of the other one.
MODERATIONS = [
    (PETITION, "b1", "invalidate", -20, [1, 2, 3, 8, 12]),
    (PETITION, "b2", "reinstate", -10, [2, 3]),
    (PETITION, "b3", "invalidate", -5, [3]),
    (OTHER, "o1", "invalidate", -5, [0]),
]
#: (reason, how many) of ``p``'s rejections, each at its own place in the audit log.
REJECTED = [("invalid_email", 3), ("duplicate", 4), ("invalid_country", 2)]


def invalidated() -> set[tuple[str, int]]:
    latest: dict[tuple[str, int], tuple[int, str]] = {}
    for petition, _batch, action, minutes, ns in MODERATIONS:
        for n in ns:
            if (petition, n) not in latest or latest[petition, n][0] < minutes:
                latest[petition, n] = (minutes, action)
    return {key for key, (_, action) in latest.items() if action == "invalidate"}


def counted(signer: Signer) -> bool:
    out = (signer.petition, signer.n) in invalidated()
    return not out and (not signer.confirmation_required or signer.confirmed_at is not None)


def pending(signer: Signer) -> bool:
    out = (signer.petition, signer.n) in invalidated()
    return not out and signer.confirmation_required and signer.confirmed_at is None


def per_country(petition: str) -> dict[tuple[str, str], tuple[int, int]]:
    """``(region, country) -> (counted, pending)``: the aggregate's current totals."""
    totals: dict[tuple[str, str], tuple[int, int]] = defaultdict(lambda: (0, 0))
    for s in signers():
        if s.petition == petition:
            n, p = totals[s.region, s.country]
            totals[s.region, s.country] = (n + counted(s), p + pending(s))
    return dict(totals)


def write(client: Client, database: str) -> None:
    """Every table, the way the sink fills it, repeats and stale records included."""

    def insert(table: str, columns: list[str], rows: list[list[Any]]) -> None:
        client.insert(f"{database}.{table}", rows, column_names=columns)

    # Every row stays as written, as it does until a merge: the readings that only
    # hold once merged (no FINAL, max instead of argMax) show wrong numbers here.
    for table in (*COLLAPSING, "regional_counts"):
        client.command(f"SYSTEM STOP MERGES {database}.{table}")

    everyone = signers()
    signature_columns = [*SIGNATURE_COLUMNS, "home_partition"]
    accepted = [signature_row(s.accepted(), s.n % 6) for s in everyone]
    insert("signatures", signature_columns, accepted)
    insert("signatures", signature_columns, accepted[:20])  # a replay after a crash

    confirmed = [
        confirmation_row(
            {
                "petition_id": s.petition,
                "email_hash": s.email_hash,
                "signature_id": f"{s.petition}-sig-{s.n}",
                "confirmed_at": s.confirmed_at,
                "source": "link",
            },
            0,
        )
        for s in everyone
        if s.confirmed_at is not None
    ]
    insert("confirmations", CONFIRMATION_COLUMNS, confirmed)
    insert("confirmations", CONFIRMATION_COLUMNS, confirmed[:2])  # a link followed twice

    by_n = {(s.petition, s.n): s for s in everyone}
    moderations = [
        moderation_row(
            {
                "petition_id": petition,
                "email_hash": by_n[petition, n].email_hash,
                "signature_id": f"{petition}-sig-{n}",
                "action": action,
                "batch_id": batch,
                "reason": f"{batch} reason",
                "actor": "ops@example.org",
                "at": NOW + timedelta(minutes=minutes),
            },
            0,
        )
        for petition, batch, action, minutes, ns in MODERATIONS
        for n in ns
    ]
    insert("moderations", MODERATION_COLUMNS, moderations)
    insert("moderations", MODERATION_COLUMNS, moderations[:3])

    reasons = [reason for reason, k in REJECTED for _ in range(k)] + ["malformed"] * 2
    rejections = [
        rejection_row(
            {
                "petition_id": PETITION if offset < len(reasons) - 2 else OTHER,
                "reason": reason,
                "detail": "x",
                "signature_id": None,
                "received_at": NOW,
                "source_topic": "signatures.submitted",
                "source_partition": 1,
                "source_offset": offset,
                "source_index": 0,
            },
            1,
        )
        for offset, reason in enumerate(reasons)
    ]
    insert("rejections", [*REJECTION_COLUMNS, "home_partition"], rejections)
    insert("rejections", [*REJECTION_COLUMNS, "home_partition"], rejections[2:6])

    # The aggregate's totals per (petition, country), a batch each (ClickHouse collapses
    # repeats inside one insert): two rows from before versions (version 0, larger than
    # today's numbers: ops invalidated since), an earlier version, the current one, and
    # the earlier one again, delivered late (in a batch of its own).
    def count_row(petition: str, key: tuple[str, str], n: int, p: int, version: int) -> list[Any]:
        region, country = key
        record = {
            "petition_id": petition,
            "region": region,
            "country": country,
            "signatures": n,
            "pending": p,
            "version": version,
            "updated_at": NOW + timedelta(seconds=version),
        }
        return regional_count_row(record, 0)

    current = {petition: per_country(petition) for petition in (PETITION, OTHER)}
    everywhere, late = (PETITION, OTHER), (PETITION,)
    history: list[tuple[int, Callable[[int, int], tuple[int, int]], tuple[str, ...]]] = [
        (0, lambda n, _p: (n + 7, 0), everywhere),
        (0, lambda n, _p: (n + 3, 0), everywhere),
        (1, lambda n, p: (n // 2, p + 3), everywhere),
        (2, lambda n, p: (n, p), everywhere),
        (1, lambda n, p: (n // 2, p + 3), late),
    ]
    for version, numbers, petitions in history:
        batch = [
            count_row(petition, key, *numbers(n, p), version)
            for petition in petitions
            for key, (n, p) in current[petition].items()
        ]
        insert("regional_counts", REGIONAL_COUNT_COLUMNS, batch)


# -- running the queries -----------------------------------------------------------------


@pytest.fixture
def warehouse(clickhouse_dsn: str, test_id: str) -> Iterator[tuple[Client, str]]:
    """A freshly migrated database of its own in the session's chDB."""
    client = connect(clickhouse_dsn)
    database = f"t_{test_id}"
    migrate(client, database)
    try:
        yield client, database
    finally:
        client.command(f"DROP DATABASE IF EXISTS {database}")


def run(
    warehouse: tuple[Client, str], sql: str, petition: str = PETITION, **macros: Any
) -> list[dict[str, Any]]:
    client, database = warehouse
    query = render(sql, variables={"database": database, "petition": petition}, **macros)
    return list(client.query(query).named_results())


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def minute_of(at: datetime, seconds: int = 60) -> datetime:
    return datetime.fromtimestamp(int(at.timestamp()) // seconds * seconds, UTC)


def test_every_panel_runs_and_the_key_panels_show_the_truth(
    warehouse: tuple[Client, str],
) -> None:
    """Every query runs on the migrated tables, and the numbers an analyst reads first
    (the total, pending, by region, by country, rejected) are those of the API."""
    write(*warehouse)
    for where, target in every_query():
        rows = run(warehouse, target["rawSql"])
        if target.get("format") == TIME_SERIES:
            assert rows, f"{where}: nothing in the time range"
            assert next(iter(rows[0])) == "time", f"{where}: Grafana needs the time first"

    ours = [s for s in signers() if s.petition == PETITION]
    totals = per_country(PETITION)
    total = sum(n for n, _ in totals.values())
    # 64 signers: 7 wait for their confirmation, 3 of the others were invalidated.
    assert total == sum(map(counted, ours)) == 54

    assert [r["petition_id"] for r in run(warehouse, template_variable("petition")["query"])] == [
        OTHER,
        PETITION,
    ]
    assert run(warehouse, panel_sql("Counted signatures")) == [{"counted": total}]
    assert run(warehouse, panel_sql("Counted signatures"), OTHER) == [{"counted": 9}]
    assert run(warehouse, panel_sql("Pending confirmation")) == [
        {"pending": sum(map(pending, ours))}
    ]
    assert run(warehouse, panel_sql("Invalidated by moderation")) == [{"invalidated": 4}]
    assert run(warehouse, panel_sql("ClickHouse recount (cross-check)")) == [{"recount": total}]

    by_region: Counter[str] = Counter()
    for (region, _country), (n, _p) in totals.items():
        by_region[region] += n
    shown = run(warehouse, panel_sql("Counted, by region"))
    assert {r["region"]: r["signatures"] for r in shown} == by_region
    assert [r["signatures"] for r in shown] == sorted(by_region.values(), reverse=True)

    by_country = run(warehouse, panel_sql("Counted, by country"))
    assert {r["country"]: (r["region"], r["signatures"], r["pending"]) for r in by_country} == {
        country: (region, n, p) for (region, country), (n, p) in totals.items()
    }
    for row in by_country:
        assert row["share_percent"] == pytest.approx(100 * row["signatures"] / total, abs=0.051)

    rejected = run(warehouse, panel_sql("Rejected, by reason"))
    assert {r["reason"]: r["rejected"] for r in rejected} == dict(REJECTED)


def test_the_time_series_count_what_happened_in_the_time_range(
    warehouse: tuple[Client, str],
) -> None:
    """The charts follow Grafana's time range and interval: counted signatures per
    minute and region, confirmations, and the moderation batches."""
    write(*warehouse)
    ours = [s for s in signers() if s.petition == PETITION]
    in_range = [s for s in ours if counted(s) and START <= minute_of(s.submitted_at) <= END]
    assert len(in_range) < sum(map(counted, ours))  # the range leaves some out

    rate = panel_sql("Signatures per minute, by region")
    per_minute = Counter((minute_of(s.submitted_at), s.region) for s in in_range)
    shown = {(utc(r["time"]), r["region"]): r["per_minute"] for r in run(warehouse, rate)}
    assert shown == per_minute
    # Zoomed out (5-minute points): the average per minute over each point's interval.
    per_five = Counter((minute_of(s.submitted_at, 300), s.region) for s in in_range)
    shown = {
        (utc(r["time"]), r["region"]): r["per_minute"] for r in run(warehouse, rate, interval_s=300)
    }
    assert shown == {key: n / 5 for key, n in per_five.items()}

    confirmations = Counter(minute_of(s.confirmed_at) for s in ours if s.confirmed_at)
    shown_confirmations = run(warehouse, panel_sql("Confirmations"))
    assert {utc(r["time"]): r["confirmations"] for r in shown_confirmations} == confirmations

    batches = run(warehouse, panel_sql("Moderations"))
    assert [(r["batch_id"], r["action"], r["signers"]) for r in batches] == [
        ("b3", "invalidate", 1),
        ("b2", "reinstate", 2),
        ("b1", "invalidate", 5),
    ]
    assert run(warehouse, panel_sql("Moderations"), end=NOW - timedelta(minutes=15)) == [
        batches[-1]
    ]


def test_a_panel_naming_what_the_migrations_do_not_make_fails(
    warehouse: tuple[Client, str],
) -> None:
    """What keeps the dashboard in step: a renamed column or table is an error here."""
    sql = panel_sql("Counted, by region")
    run(warehouse, sql)
    with pytest.raises(Exception, match="signatures_total"):
        run(warehouse, sql.replace("argMax(signatures,", "argMax(signatures_total,"))
    with pytest.raises(Exception, match="regional_totals"):
        run(warehouse, sql.replace(".regional_counts", ".regional_totals"))
    with pytest.raises(ValueError, match=r"\$__timeGroup"):
        run(warehouse, sql + " -- $__timeGroup(minute, 1m)")
    with pytest.raises(ValueError, match=r"\$\{region\}"):
        run(warehouse, sql.replace("n > 0", "region = '${region}'"))
