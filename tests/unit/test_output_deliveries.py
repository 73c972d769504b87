"""What the worker's output producer makes of a delivery report (run on librdkafka's
delivery thread; the next flush acts on it): pure logic, no broker."""

from __future__ import annotations

import threading

from confluent_kafka import KafkaError

from streams.worker.outputs import OutputProducer


class Report:
    """A delivery report's message, as confluent-kafka gives it."""

    def __init__(self, offset: int | None) -> None:
        self._offset = offset

    def topic(self) -> str:
        return "signatures.dedupe-changelog"

    def partition(self) -> int:
        return 4

    def offset(self) -> int | None:
        return self._offset


def outputs() -> OutputProducer:
    """An OutputProducer's delivery bookkeeping, without its producers."""
    bare = object.__new__(OutputProducer)
    bare.failure = None
    bare._delivered_offsets = {}
    bare._offsets_lock = threading.Lock()
    return bare


def test_a_tracked_record_delivered_at_an_offset_is_kept_for_the_store() -> None:
    producer = outputs()
    producer._delivered_tracked(None, Report(17))  # type: ignore[arg-type]
    producer._delivered_tracked(None, Report(18))  # type: ignore[arg-type]
    assert producer.take_delivered() == {("signatures.dedupe-changelog", 4): [17, 18]}
    assert producer.failure is None


def test_a_tracked_record_delivered_without_an_offset_fails_the_next_flush() -> None:
    # librdkafka's implicit acknowledgement is no proof the broker holds the record.
    producer = outputs()
    producer._delivered_tracked(None, Report(None))  # type: ignore[arg-type]
    assert producer.take_delivered() == {}
    assert producer.failure is not None
    assert "signatures.dedupe-changelog[4]" in producer.failure


def test_a_refused_record_fails_the_next_flush_and_the_first_failure_is_kept() -> None:
    producer = outputs()
    producer._delivered(KafkaError(KafkaError._MSG_TIMED_OUT), Report(None))  # type: ignore[arg-type]
    first = producer.failure
    producer._delivered_tracked(None, Report(None))  # type: ignore[arg-type]
    assert first is not None and "timed out" in first.lower()
    assert producer.failure == first
