"""Which delivery reports prove a record is on Kafka (``streams.core.kafka``): the one
rule every producer's callback applies. Pure logic, no broker."""

from __future__ import annotations

from confluent_kafka import KafkaError

from streams.core.kafka import delivery_failure, failures_into


class Report:
    """A delivery report's message, as confluent-kafka gives it."""

    def __init__(self, offset: int | None) -> None:
        self._offset = offset

    def offset(self) -> int | None:
        return self._offset


def test_a_report_with_an_offset_is_proof() -> None:
    assert delivery_failure(None, Report(0)) is None  # type: ignore[arg-type]


def test_a_report_without_an_offset_is_not_proof() -> None:
    failure = delivery_failure(None, Report(None))  # type: ignore[arg-type]
    assert failure is not None and "without an offset" in failure


def test_an_error_is_reported_in_its_own_words() -> None:
    error = KafkaError(KafkaError._MSG_TIMED_OUT)
    assert delivery_failure(error, Report(None)) == error.str()  # type: ignore[arg-type]


def test_a_collecting_callback_keeps_only_the_failures() -> None:
    failures: list[str] = []
    on_delivery = failures_into(failures)
    on_delivery(None, Report(7))  # type: ignore[arg-type]
    on_delivery(None, Report(None))  # type: ignore[arg-type]
    on_delivery(KafkaError(KafkaError._MSG_TIMED_OUT), Report(None))  # type: ignore[arg-type]
    assert len(failures) == 2
