"""Surges into partitions created a moment before, while the broker is busy creating
and deleting other topics: every acknowledged signature is on Kafka, once.

This is how librdkafka once acknowledged a signature the broker had refused
(docs/exactly-once.md, "An acknowledgement is a place in the log"): the first request
to a new partition was refused "Not leader", the one behind it was accepted, and
librdkafka reported the first as delivered. It happened in about one round in 90
here, so the test runs many rounds and belongs to ``make soak``. Before the fix a
round lost one signature and its receipt had no offset; now a receipt without an
offset is refused (``PublishFailed``) and the round fails on it too.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.testing.cleanup import delete_run_topics
from tests.conftest import isolated_settings
from tests.intake_client import submitted
from tests.integration.test_publisher import publish_at_once, signature

pytestmark = [pytest.mark.slow, pytest.mark.soak, pytest.mark.timeout(1800)]

ROUNDS = int(os.environ.get("COUNTERSIGN_FRESH_PARTITION_ROUNDS", "150"))
SIGNATURES = 1200
CHURN_PAUSE_SECONDS = 1.0


@dataclass
class Churn:
    """What the churning thread did: a round without churn would prove nothing."""

    cycles: int = 0
    error: BaseException | None = None


@pytest.fixture
def topic_churn(kafka: str, tmp_path: Path) -> Iterator[Churn]:
    """Another pipeline's topics created and deleted over and over, as the suite's
    other tests do: the broker's controller is busy, new partitions get leaders late."""
    stop = threading.Event()
    churn = Churn()

    def run() -> None:
        # Paced: a deleted partition's directory stays for a minute
        # (file.delete.delay.ms), and two unpaced loops exhausted the broker's 20,000
        # file descriptors here.
        try:
            while not stop.wait(CHURN_PAUSE_SECONDS):
                other = isolated_settings(kafka, uuid.uuid4().hex[:10], tmp_path)
                create_topics(other)
                delete_run_topics(other)
                churn.cycles += 1
        except BaseException as exc:  # reported by the test, not lost in a thread
            churn.error = exc

    churner = threading.Thread(target=run, daemon=True)
    churner.start()
    yield churn
    stop.set()
    churner.join(timeout=30)


def surge_into_fresh_topics(settings: Settings) -> None:
    create_topics(settings)
    signatures = [signature(email=f"f{n}@example.org") for n in range(SIGNATURES)]
    # Raises PublishFailed for a signature Kafka did not prove it took: that fails too.
    publish_at_once(settings, signatures, coalesce_seconds=0.1, coalesce_target=50)
    on_kafka = Counter(record["signature_id"] for record in submitted(settings, SIGNATURES))
    assert on_kafka == Counter(s.signature_id for s in signatures)


def test_every_acknowledged_signature_is_on_kafka_when_its_partitions_are_new(
    kafka: str, tmp_path: Path, topic_churn: Churn
) -> None:
    for round_number in range(ROUNDS):
        settings = isolated_settings(kafka, uuid.uuid4().hex[:10], tmp_path / str(round_number))
        try:
            surge_into_fresh_topics(settings)
        finally:
            delete_run_topics(settings)
        assert topic_churn.error is None, f"the churn stopped: {topic_churn.error!r}"
    assert topic_churn.cycles >= ROUNDS // 2  # the broker was busy all along
