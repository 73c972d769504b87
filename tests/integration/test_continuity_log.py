"""The continuity guard reads a hole from the real log: records as the agent would
have read them, and nothing for a hole of transaction markers."""

from __future__ import annotations

import time

from confluent_kafka import TopicPartition
from confluent_kafka.admin import NewTopic

from streams.core import kafka
from streams.core.settings import Settings
from streams.worker.continuity import ContinuityGuard


def offsets_written(settings: Settings, topic: str) -> list[int]:
    """Writes a record, a committed transaction of one record, then a record: the
    transaction's marker takes an offset that holds no record."""
    plain = kafka.producer(settings)
    transactional = kafka.producer(settings, **{"transactional.id": f"{topic}-tx"})
    offsets: list[int] = []

    def written(_error: object, message: object) -> None:
        offsets.append(message.offset())  # type: ignore[attr-defined]

    plain.produce(topic, b"first", b"k", partition=0, headers=[("h", b"1")], on_delivery=written)
    plain.flush(10)
    transactional.init_transactions(10)
    transactional.begin_transaction()
    transactional.produce(topic, b"in a transaction", partition=0, on_delivery=written)
    transactional.commit_transaction(10)
    # The coordinator writes the marker after the commit returns: wait until it is in.
    probe = kafka.consumer(settings, group_id=f"{topic}-probe")
    deadline = time.monotonic() + 10
    while probe.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1] < offsets[1] + 2:
        assert time.monotonic() < deadline, "the transaction's marker never came"
        time.sleep(0.05)
    probe.close()
    plain.produce(topic, b"after it", partition=0, on_delivery=written)
    plain.flush(10)
    return offsets


async def never_marks(_tp: object, _start: int, _end: int) -> None:
    raise AssertionError("only the log is read here")


def test_a_hole_of_markers_holds_no_record_and_a_hole_of_records_reads_them(
    settings: Settings,
) -> None:
    topic = settings.topic("continuity")
    admin = kafka.admin_client(settings)
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result()
    first, in_transaction, after = offsets_written(settings, topic)
    assert after == in_transaction + 2  # the marker took the offset between them
    guard = ContinuityGuard(settings, lambda _topic, _partition: None, never_marks)

    assert guard.read_log(topic, 0, in_transaction + 1, after) == []
    read = guard.read_log(topic, 0, first, after)
    assert [(r.offset, r.key, r.value, r.headers) for r in read] == [
        (first, b"k", b"first", (("h", b"1"),)),
        (in_transaction, None, b"in a transaction", ()),
    ]
    assert all(r.timestamp is not None and r.timestamp > time.time() - 60 for r in read)
