"""The dedupe table's changelog records of several writes (``schemas.writes``,
``streams.worker.tables.TableWrittenPerRecord`` / ``WritesPerRecord``): what the
writer sends, a fresh table restores to the same entries, through Faust's real
RocksDB store; and a record that cannot be read stops the worker instead of leaving
the table short."""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import faust
import pytest
from faust.tables import recovery
from faust.types import TP
from faust.types.tuples import Message

from schemas.writes import (
    WRITES_KEY_PREFIX,
    decode_writes,
    encode_writes,
    is_writes_key,
    writes_key,
    writes_of,
)
from streams.core.errors import MalformedMessage
from streams.rules.dedupe import Status, Winner, restores_over
from streams.worker import engine
from streams.worker.engine import tables

CHANGELOG = "seam-test-winners-changelog"


class Halted(Exception):
    pass


def halt(reason: str) -> NoReturn:
    raise Halted(reason)


def table_in(directory: Path, **options: Any) -> tables.TableWrittenPerRecord:
    app = engine.EngineApp(
        "seam-test", broker="kafka://127.0.0.1:9", store="rocksdb://", datadir=str(directory)
    )
    return tables.table_written_per_record(
        app,
        "winners",
        writes_of=writes_of,
        on_unreadable=halt,
        **options,
        default=None,
        key_type=bytes,
        value_type=bytes,
        partitions=4,
    )


def message(partition: int, offset: int, key: bytes | None, value: bytes | None) -> Message:
    return Message(
        CHANGELOG, partition, offset, 0.0, 0, [], key, value, None, tp=TP(CHANGELOG, partition)
    )


def changelog_event(table: Any, partition: int, offset: int, key: bytes, value: bytes) -> Any:
    return table.app.create_event(key, value, [], message(partition, offset, key, value))


def handling(table: Any, partition: int) -> Any:
    """An event of ``partition`` is the one being handled, as in an agent's stream."""
    return engine.handling_on(table.app, TP("winners-input", partition))


class Sent(list[tuple[int, bytes, bytes]]):
    """The changelog records a ``WritesPerRecord`` handed to its producer."""

    def __call__(self, topic: str, partition: int, key: bytes, value: bytes) -> None:
        assert topic == "seam-test-winners-changelog"
        self.append((partition, key, value))


@pytest.fixture
def sent() -> Sent:
    return Sent()


def writer(table: tables.TableWrittenPerRecord, sent: Sent) -> tables.WritesPerRecord:
    return tables.WritesPerRecord(table, encode=encode_writes, new_key=writes_key, send=sent)


def test_a_writes_record_round_trips_its_entries_in_order() -> None:
    writes = [(b"p:" + bytes(32), b"FR 0 1 0"), (b"q:" + bytes(32), None)]
    assert decode_writes(encode_writes(writes)) == writes


def test_a_writes_key_is_fresh_each_time_and_never_a_table_key() -> None:
    keys = {writes_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(is_writes_key(key) for key in keys)
    table_key = WRITES_KEY_PREFIX + b"x:" + bytes(32)  # a petition id that mimics the prefix
    assert not is_writes_key(table_key)
    assert writes_of(table_key, b"FR 0 1 0") is None


def test_a_record_of_writes_that_is_no_writes_record_is_malformed() -> None:
    with pytest.raises(MalformedMessage):
        writes_of(writes_key(), b"not avro")


def test_one_record_sends_all_its_writes_as_one_changelog_record(
    tmp_path: Path, sent: Sent
) -> None:
    table = table_in(tmp_path / "a")
    writes = writer(table, sent)
    with handling(table, 2):
        for n in range(50):
            writes[b"pet:" + n.to_bytes(32, "big")] = f"FR 2 {n} 2".encode()
        assert writes.unsent(2) == 50
        writes.end_record(2)
        writes.end_record(2)  # nothing more was written: nothing more is sent
    [(partition, key, value)] = sent
    assert partition == 2
    assert is_writes_key(key)
    assert len(decode_writes(value)) == 50


def test_held_writes_go_out_together_once_enough_are_held(tmp_path: Path, sent: Sent) -> None:
    table = table_in(tmp_path / "a")
    writes = tables.WritesPerRecord(
        table, encode=encode_writes, new_key=writes_key, send=sent, hold_writes=3
    )
    with handling(table, 2):
        for n in range(4):
            writes[b"pet:" + n.to_bytes(32, "big")] = f"FR 2 {n} 2".encode()
            writes.end_record(2)  # one signature a record
    [(partition, _key, value)] = sent  # the third record's end sent the first three
    assert partition == 2
    assert [key[-1] for key, _value in decode_writes(value)] == [0, 1, 2]
    assert writes.unsent(2) == 1


def test_what_is_held_goes_out_before_a_commit_one_record_per_partition(
    tmp_path: Path, sent: Sent
) -> None:
    table = table_in(tmp_path / "a")
    writes = tables.WritesPerRecord(
        table, encode=encode_writes, new_key=writes_key, send=sent, hold_writes=500
    )
    for partition in (0, 3):
        with handling(table, partition):
            writes[b"pet:" + partition.to_bytes(32, "big")] = b"FR 0 1 0"
            writes.end_record(partition)
    assert sent == []
    writes.send_held()
    assert sorted(partition for partition, _key, _value in sent) == [0, 3]
    assert (writes.unsent(0), writes.unsent(3)) == (0, 0)
    writes.send_held()  # nothing held: nothing sent
    assert len(sent) == 2


def test_what_the_writer_sent_a_fresh_table_restores_to_the_same_entries(
    tmp_path: Path, sent: Sent
) -> None:
    first = table_in(tmp_path / "first")
    writes = writer(first, sent)
    expected: dict[bytes, bytes] = {}
    with handling(first, 1):
        for n in range(10):
            key, value = b"pet:" + n.to_bytes(32, "big"), f"DE 1 {n} 1".encode()
            writes[key] = value
            expected[key] = value
            if n % 4 == 3:
                writes.end_record(1)
        writes[b"pet:" + (0).to_bytes(32, "big")] = b"DE 1 0 1 c7"  # changed later
        expected[b"pet:" + (0).to_bytes(32, "big")] = b"DE 1 0 1 c7"
        writes.end_record(1)
    assert writes.get(b"pet:" + (3).to_bytes(32, "big")) == b"DE 1 3 1"

    restored = table_in(tmp_path / "restored")
    events = [
        changelog_event(restored, partition, offset, key, value)
        for offset, (partition, key, value) in enumerate(sent)
    ]
    events.insert(1, changelog_event(restored, 1, 99, b"old:" + bytes(32), b"US 1 0 1"))
    expected[b"old:" + bytes(32)] = b"US 1 0 1"  # a one-key record, as Faust writes them
    restored.apply_changelog_batch(events)
    assert {key: restored.data[key] for key in expected} == expected
    assert restored.data.persisted_offset(TP(CHANGELOG, 1)) == 99


def test_an_unreadable_writes_record_stops_the_worker_and_applies_nothing(tmp_path: Path) -> None:
    table = table_in(tmp_path / "t")
    good = changelog_event(table, 0, 0, b"a:" + bytes(32), b"FR 0 0 0")
    bad = changelog_event(table, 0, 1, writes_key(), b"\xc3\x01 truncated")
    with pytest.raises(Halted, match="cannot be restored"):
        table.apply_changelog_batch([good, bad])
    assert b"a:" + bytes(32) not in table.data


def test_faust_still_restores_its_tables_through_apply_changelog_batch() -> None:
    """The method the per-record writes hook, which Faust's recovery calls."""
    assert "apply_changelog_batch" in vars(faust.tables.base.Collection)
    assert "table.apply_changelog_batch(" in inspect.getsource(recovery)


def restored(table: tables.TableWrittenPerRecord, *partitions: int) -> None:
    """Faust's end of a restore, with ``partitions`` active."""
    actives = {TP(CHANGELOG, partition) for partition in partitions}
    asyncio.run(table.on_recovery_completed(actives, set()))


def restored_at(
    directory: Path, sent: Sent, partition: int, persisted: int
) -> tuple[tables.TableWrittenPerRecord, tables.WritesPerRecord]:
    """A table whose restore left ``partition`` complete up to ``persisted``, and its
    writer."""
    table = table_in(directory)
    table.data.set_persisted_offset(TP(CHANGELOG, partition), persisted)
    writes = writer(table, sent)
    restored(table, partition)
    return table, writes


def test_persist_records_how_far_the_changelog_kafka_took_reaches(
    tmp_path: Path, sent: Sent
) -> None:
    """A restart restores the changelog from after this offset (Faust's recovery)."""
    table, writes = restored_at(tmp_path / "t", sent, 3, 40)
    with handling(table, 3):
        writes[b"a:" + bytes(32)] = b"FR 3 0 3"
    writes.persist({3: [41, 42]})
    assert table.data.persisted_offset(TP(CHANGELOG, 3)) == 42


def test_nothing_is_persisted_for_a_partition_no_restore_made_active(
    tmp_path: Path, sent: Sent
) -> None:
    table = table_in(tmp_path / "t")
    writes = writer(table, sent)
    restored(table, 1)
    writes.persist({2: [0, 1]})
    assert table.data.persisted_offset(TP(CHANGELOG, 2)) is None


def test_at_another_writers_records_the_persisted_offset_stops_until_the_next_restore(
    tmp_path: Path, sent: Sent
) -> None:
    table, writes = restored_at(tmp_path / "t", sent, 0, 9)
    writes.persist({0: [10, 11, 15]})  # 12 to 14: another writer's
    assert table.data.persisted_offset(TP(CHANGELOG, 0)) == 11
    writes.persist({0: [16]})
    assert table.data.persisted_offset(TP(CHANGELOG, 0)) == 11
    table.data.set_persisted_offset(TP(CHANGELOG, 0), 16)  # as a restore reading 12-16 leaves it
    restored(table, 0)
    writes.persist({0: [17]})
    assert table.data.persisted_offset(TP(CHANGELOG, 0)) == 17


def test_a_paused_workers_late_record_does_not_make_its_restore_skip_its_successors(
    tmp_path: Path,
) -> None:
    """The chaos test's shortfall: worker A is paused with one record in its producer;
    B takes the partition, restores, and writes ten winners; A wakes and its record
    lands after them. A's next restore must still read B's ten."""
    changelog: list[tuple[int, bytes, bytes]] = []  # (partition, key, value) in offset order

    def send(topic: str, partition: int, key: bytes, value: bytes) -> None:
        changelog.append((partition, key, value))

    def entry(n: int) -> tuple[bytes, bytes]:
        return b"pet:" + n.to_bytes(32, "big"), f"FR 0 {n} 0".encode()

    def restore(table: tables.TableWrittenPerRecord) -> None:
        start = (table.data.persisted_offset(TP(CHANGELOG, 0)) or -1) + 1
        table.apply_changelog_batch(
            [changelog_event(table, 0, o, k, v) for o, (_, k, v) in enumerate(changelog)][start:]
        )
        restored(table, 0)

    a_table, b_table = table_in(tmp_path / "a"), table_in(tmp_path / "b")
    a = tables.WritesPerRecord(a_table, encode=encode_writes, new_key=writes_key, send=send)
    b = tables.WritesPerRecord(b_table, encode=encode_writes, new_key=writes_key, send=send)
    restore(a_table)
    with handling(a_table, 0):
        for n in range(10):  # A's winners, at offsets 0-9, persisted at its commit
            a[entry(n)[0]] = entry(n)[1]
            a.end_record(0)
    a.persist({0: list(range(10))})
    with handling(a_table, 0):  # A's last winner: written, not sent when A is paused
        a[entry(10)[0]] = entry(10)[1]
    restore(b_table)
    with handling(b_table, 0):
        for n in range(10, 20):  # B handles the same input again, and the next nine
            b[entry(n)[0]] = entry(n)[1]
            b.end_record(0)
    b.persist({0: list(range(10, 20))})
    with handling(a_table, 0):  # A wakes: its record goes out, at offset 20
        a.end_record(0)
    a.persist({0: [20]})
    restore(a_table)
    expected = dict(entry(n) for n in range(20))
    assert {key: a_table.data.get(key) for key in expected} == expected


def test_a_restored_write_older_than_the_entry_it_would_replace_is_not_restored(
    tmp_path: Path,
) -> None:
    """A paused worker's late record holds a signer's entry as pending (no changes)
    after the worker that took over recorded the confirmation (one change)."""
    table = table_in(tmp_path / "t", restores_over=restores_over)
    key = b"pet:" + bytes(32)
    entry = Winner("FR", 0, 5, 0, status=Status.PENDING)
    pending, confirmed = entry.encode(), replace(entry, status=Status.CONFIRMED, changes=1).encode()
    record = encode_writes
    table.apply_changelog_batch(
        [
            changelog_event(table, 0, 0, writes_key(), record([(key, pending)])),
            changelog_event(table, 0, 1, writes_key(), record([(key, confirmed)])),
            changelog_event(table, 0, 2, writes_key(), record([(key, pending)])),  # in a batch
        ]
    )
    assert table.data[key] == confirmed
    table.apply_changelog_batch(  # and in a later batch, against the store
        [changelog_event(table, 0, 3, writes_key(), record([(key, pending)]))]
    )
    assert table.data[key] == confirmed


def test_a_restored_write_as_new_or_newer_replaces_the_entry(tmp_path: Path) -> None:
    table = table_in(tmp_path / "t", restores_over=restores_over)
    key = b"pet:" + bytes(32)
    entry = Winner("FR", 0, 5, 0, status=Status.PENDING)
    confirmed = replace(entry, status=Status.CONFIRMED, changes=1)
    states = [entry.encode(), entry.encode(), confirmed.encode()]
    table.apply_changelog_batch(
        [
            changelog_event(table, 0, n, writes_key(), encode_writes([(key, v)]))
            for n, v in enumerate(states)
        ]
    )
    assert table.data[key] == states[-1]


def test_faust_still_tells_a_table_its_active_partitions_when_a_restore_ends() -> None:
    """The hook ``persist``'s starting points come from."""
    source = inspect.getsource(recovery.Recovery.on_recovery_completed)
    assert "table.on_recovery_completed(" in source
    assert "self.actives_for_table[table]" in source
    assert "on_recovery_completed" in vars(faust.tables.base.Collection)


def test_faust_still_reads_the_persisted_offset_where_its_own_sends_write_it() -> None:
    """``persist`` does what Faust's ``_on_changelog_sent`` does for its own sends."""
    source = inspect.getsource(faust.tables.base.Collection._on_changelog_sent)
    assert "self.data.set_persisted_offset(res.topic_partition, res.offset)" in source


def test_a_record_handled_outside_a_stream_writes_the_partition_it_is_handled_for(
    tmp_path: Path, sent: Sent
) -> None:
    """The idle agents' tail check handles records from the log with no Faust event
    around them; ``handling_on`` gives the store the partition to write."""
    table = table_in(tmp_path / "t")
    writes = writer(table, sent)
    with engine.handling_on(table.app, TP("winners-input", 4)):
        writes[b"a:" + bytes(32)] = b"FR 4 0 4"
        writes.end_record(4)
    assert [partition for partition, _, _ in sent] == [4]
    assert table.data._dbs.keys() == {4}  # the RocksDB of partition 4, and no other
    with pytest.raises(AssertionError):  # without it, Faust's store refuses the write
        table.data[b"b:" + bytes(32)] = b"FR 4 0 4"


def test_the_mapping_reads_what_fausts_store_wrote_in_the_events_partition(
    tmp_path: Path, sent: Sent
) -> None:
    """Within an event the mapping goes to the partition's database itself, past
    Faust's store path: both must see the same entries, in the same partition."""
    table = table_in(tmp_path / "t")
    writes = writer(table, sent)
    by_faust, by_mapping = b"f:" + bytes(32), b"m:" + bytes(32)
    with handling(table, 3):
        table.data[by_faust] = b"FR 3 0 3"
        writes[by_mapping] = b"DE 3 1 3"
        assert writes.get(by_faust) == b"FR 3 0 3"
        assert by_faust in writes
        assert writes[by_faust] == b"FR 3 0 3"
        assert table.data[by_mapping] == b"DE 3 1 3"
    with handling(table, 1):  # another partition's database holds neither
        assert writes.get(by_faust) is None
        assert by_mapping not in writes
        with pytest.raises(KeyError):
            writes[by_mapping]
    assert writes.get(by_mapping) == b"DE 3 1 3"  # outside an event: Faust's search


def test_faust_still_keeps_one_database_per_partition_behind_its_store(tmp_path: Path) -> None:
    """The mapping's direct path leans on ``Store._db_for_partition`` and on what
    ``Store._get`` and ``_set`` do with it."""
    table = table_in(tmp_path / "t")
    store = table.data
    assert callable(store._db_for_partition)
    assert "db = self._db_for_partition(partition)" in inspect.getsource(type(store)._get)
    assert "db.put(key, value)" in inspect.getsource(type(store)._set)
