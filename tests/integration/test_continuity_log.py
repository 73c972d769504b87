"""The continuity guard reads the real log to tell a hole of transaction markers,
which a consumer rightly jumps, from records it would skip."""

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

    plain.produce(topic, b"first", partition=0, on_delivery=written)
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


async def never_seek(_tp: object, _offset: int) -> None:
    raise AssertionError("only the log is read here")


def test_a_hole_of_markers_holds_no_record_and_a_hole_of_records_does(
    settings: Settings,
) -> None:
    topic = settings.topic("continuity")
    admin = kafka.admin_client(settings)
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result()
    first, in_transaction, after = offsets_written(settings, topic)
    assert after == in_transaction + 2  # the marker took the offset between them
    guard = ContinuityGuard(settings, lambda _topic, _partition: None, never_seek)

    assert not guard.holds_records(topic, 0, in_transaction + 1, after)
    assert guard.holds_records(topic, 0, first, after)
    low, high = kafka.consumer(settings, group_id=f"{topic}-probe").get_watermark_offsets(
        TopicPartition(topic, 0), timeout=10
    )
    assert (low, high) == (first, after + 1)
