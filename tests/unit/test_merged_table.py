"""The aggregate's table (``streams.worker.engine.tables.TableMergedOnRestore``), on a
real RocksDB store: a restore merges each changelog value into the stored one, and
its own sends record how far the store holds the changelog only without gaps."""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
from faust.types import TP

from streams.rules.aggregate import fold, merge
from streams.worker import engine
from streams.worker.engine import tables
from tests.unit.test_table_writes import changelog_event

CHANGELOG = "merged-test-partials-changelog"


def table_in(directory: Path) -> tables.TableMergedOnRestore:
    app = engine.EngineApp(
        "merged-test", broker="kafka://127.0.0.1:9", store="rocksdb://", datadir=str(directory)
    )
    return tables.table_merged_on_restore(app, "partials", merge=merge, default=None, partitions=4)


def raw(table: tables.TableMergedOnRestore, value: Any) -> bytes:
    """A value as Faust writes it to the table's changelog."""
    dumped = table.app.serializers.dumps_value(None, value, serializer=table.value_serializer)
    assert isinstance(dumped, bytes)
    return dumped


def key(table: tables.TableMergedOnRestore, petition: str) -> bytes:
    dumped = table.app.serializers.dumps_key(None, petition, serializer=table.key_serializer)
    assert isinstance(dumped, bytes)
    return dumped


def partials(version: int, signatures: int) -> dict[str, Any]:
    return fold(None, 0, {"FR": signatures}, {}, version)[0]


def test_a_late_older_record_restored_after_a_newer_one_sets_nothing_back(
    tmp_path: Path,
) -> None:
    table = table_in(tmp_path)
    newer, older = partials(9, 40), partials(5, 25)
    events = [
        changelog_event(table, 1, offset, key(table, "syria-icc"), raw(table, value))
        for offset, value in enumerate([older, newer, older])
    ]
    table.apply_changelog_batch(events[:2])
    table.apply_changelog_batch(events[2:])  # against the store, not the batch
    assert table.data["syria-icc"] == newer
    assert table.data.persisted_offset(TP(CHANGELOG, 1)) == 2


@dataclass
class Sent:
    """What Faust's producer hands ``_on_changelog_sent``: a future of the record's place."""

    topic_partition: TP
    offset: int

    def result(self) -> Sent:
        return self


def test_its_sends_record_the_offset_only_while_they_follow_each_other(tmp_path: Path) -> None:
    table = table_in(tmp_path)
    table.data.set_persisted_offset(TP(CHANGELOG, 2), 9)
    asyncio.run(table.on_recovery_completed({TP(CHANGELOG, 2)}, set()))
    for offset in (10, 11, 14, 15):  # 12 and 13: another writer's
        table._on_changelog_sent(Sent(TP(CHANGELOG, 2), offset))
    assert table.data.persisted_offset(TP(CHANGELOG, 2)) == 11


def test_faust_still_reports_each_changelog_send_to_the_tables_callback() -> None:
    """The hook the merged table replaces (Faust would record every offset it sent)."""
    source = inspect.getsource(faust.tables.base.Collection.send_changelog)
    assert "callback=self._on_changelog_sent" in source
    assert "_on_changelog_sent" in vars(faust.tables.base.Collection)
