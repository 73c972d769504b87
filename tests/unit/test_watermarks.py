"""Asking a partition's offsets while a new topic has no leader yet: retried, not raised."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from streams.core.kafka import watermarks


class Reader:
    """Answers ``errors`` first, then offsets: what a broker does for a new topic."""

    def __init__(self, *errors: int) -> None:
        self.errors = list(errors)

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float) -> tuple[int, int]:
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return 0, 7


def test_a_partition_without_a_leader_yet_is_asked_again() -> None:
    reader = Reader(KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE)
    assert watermarks(reader, TopicPartition("t", 0), 5) == (0, 7)  # type: ignore[arg-type]


def test_any_other_error_is_raised_at_once() -> None:
    reader = Reader(KafkaError.TOPIC_AUTHORIZATION_FAILED)
    with pytest.raises(KafkaException):
        watermarks(reader, TopicPartition("t", 0), 5)  # type: ignore[arg-type]


def test_a_leader_that_never_comes_is_raised_after_the_timeout() -> None:
    reader = Reader(*[KafkaError.NOT_LEADER_FOR_PARTITION] * 100)
    with pytest.raises(KafkaException):
        watermarks(reader, TopicPartition("t", 0), 0.3)  # type: ignore[arg-type]
