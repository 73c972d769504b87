"""A replay's namespace is apart from the live pipeline in every name it writes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.audit.replay import ReplayError, namespace, parse_bound
from streams.core.settings import Settings

LIVE = Settings(topic_prefix="eu.", data_dir=Path("/srv/cs"), clickhouse_database="countersign")


def test_the_namespace_has_its_own_topics_groups_directory_and_database() -> None:
    replay = namespace(LIVE, "audit-1")
    assert replay.topic("signatures.submitted") == "eu.replay.audit-1.signatures.submitted"
    assert replay.group_id() != LIVE.group_id()
    assert replay.data_dir == Path("/srv/cs/replay/audit-1")
    assert replay.clickhouse_database == "countersign_replay_audit_1"
    assert replay.clickhouse_target == "chdb:///srv/cs/replay/audit-1/clickhouse"


def test_a_clickhouse_server_is_shared_but_not_its_database() -> None:
    live = LIVE.model_copy(update={"clickhouse_dsn": "http://ch:8123"})
    replay = namespace(live, "x")
    assert replay.clickhouse_dsn == "http://ch:8123"
    assert replay.clickhouse_database != live.clickhouse_database


def test_a_name_that_would_escape_the_namespace_is_refused() -> None:
    with pytest.raises(ReplayError, match="letters, digits"):
        namespace(LIVE, "../live")


def test_bounds_are_offsets_or_times_with_a_zone() -> None:
    assert parse_bound("1200") == 1200
    assert parse_bound("2026-12-01T10:00:00Z") == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert parse_bound(None) is None
    with pytest.raises(ReplayError, match="time zone"):
        parse_bound("2026-12-01T10:00:00")
    with pytest.raises(ReplayError, match="neither"):
        parse_bound("yesterday")
