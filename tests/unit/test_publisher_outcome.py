"""What a delivery report becomes for the publisher's caller (``_Publisher._outcome``):
pure logic, run on librdkafka's delivery thread, which must never raise there (one
exception stops the thread, and every signature after it is refused)."""

from __future__ import annotations

from types import SimpleNamespace

from confluent_kafka import KafkaError

from streams.core.errors import PublishFailed
from streams.publish import Receipt, Signature
from streams.publish.publisher import _Publisher

SIGNED = Signature(
    petition_id="syria-icc",
    source="crm-import",
    full_name="Ana Silva",
    email="ana@example.org",
    country="BR",
)
PUBLISHER = SimpleNamespace(topic="signatures.submitted")


class Report:
    """A delivery report's message, as confluent-kafka gives it."""

    def __init__(self, partition: int | None, offset: int | None) -> None:
        self._partition, self._offset = partition, offset

    def partition(self) -> int | None:
        return self._partition

    def offset(self) -> int | None:
        return self._offset


def outcome(error: KafkaError | None, report: Report, index: int = 0) -> object:
    return _Publisher._outcome(PUBLISHER, SIGNED, error, report, index)  # type: ignore[arg-type]


def test_an_acknowledged_event_gets_its_place_in_the_log() -> None:
    assert outcome(None, Report(3, 41), index=2) == Receipt(
        SIGNED.signature_id, "signatures.submitted", 3, 41, 2
    )


def test_an_acknowledgement_without_an_offset_is_a_failure_kafka_may_have_taken() -> None:
    # librdkafka's implicit acknowledgement: once given for a record the broker refused.
    failed = outcome(None, Report(3, None))
    assert isinstance(failed, PublishFailed) and failed.possibly_persisted


def test_a_timed_out_event_is_a_failure_kafka_may_have_taken() -> None:
    failed = outcome(KafkaError(KafkaError._MSG_TIMED_OUT), Report(3, None))
    assert isinstance(failed, PublishFailed) and failed.possibly_persisted
