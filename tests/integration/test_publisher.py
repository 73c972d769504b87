"""The publisher library: ``publish`` returns after the broker's ack, with where the
event now lives; when no broker answers, a clear typed error, never a hang."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from streams.core.errors import InvalidSignature, KafkaBusy, PublishFailed
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.core.topicspecs import SUBMITTED
from streams.publish import AsyncPublisher, Publisher, Receipt, Signature
from streams.publish.sealer import Sealer
from streams.rules.keys import submission_key_for
from streams.rules.placement import home_partition
from streams.testing.processes import free_port
from tests.intake_client import read_topic, submitted


def signature(**changes: str) -> Signature:
    fields = {"full_name": "Ana Silva", "email": "ana@example.org", "country": "BR"} | changes
    return Signature(petition_id="syria-icc", source="crm-import", **fields)


def test_publish_returns_the_position_of_the_acknowledged_event(settings: Settings) -> None:
    create_topics(settings)
    sent = signature()
    with Publisher(settings) as publisher:
        receipt = publisher.publish(sent.check())
    assert receipt.signature_id == sent.signature_id
    assert receipt.topic == settings.topic("signatures.submitted") and receipt.offset >= 0
    [record] = submitted(settings, expect=1)
    # Sent in clear (no sealer given): nothing sealed.
    assert record == {
        **sent.to_record(),
        "submitted_at": record["submitted_at"],
        "sealed": None,
        "was_sealed": False,
    }
    assert abs((record["submitted_at"] - sent.submitted_at).total_seconds()) < 0.001


def test_with_a_sealer_the_publisher_sends_personal_data_sealed(settings: Settings) -> None:
    create_topics(settings)
    sent = signature(postal_code="01310")
    with Sealer.start(settings) as sealer, Publisher(settings, sealer=sealer) as publisher:
        publisher.publish(sent.check())
    [on_kafka] = read_topic(settings, SUBMITTED.name, "SignatureSubmitted", lambda r: len(r) >= 1)
    assert (on_kafka["full_name"], on_kafka["email"], on_kafka["postal_code"]) == (None,) * 3
    [record] = submitted(settings, expect=1)  # opened with the signer's key
    assert (record["was_sealed"], record["full_name"], record["email"], record["postal_code"]) == (
        True,
        "Ana Silva",
        "ana@example.org",
        "01310",
    )


def test_the_async_publisher_has_many_events_in_flight(settings: Settings) -> None:
    create_topics(settings)

    async def publish_all() -> list[int]:
        publisher = AsyncPublisher(settings)
        try:
            receipts = await asyncio.gather(
                *(publisher.publish(signature(email=f"a{n}@example.org")) for n in range(500))
            )
        finally:
            await publisher.close()
        return [r.offset for r in receipts]

    offsets = asyncio.run(publish_all())
    assert len(offsets) == 500
    assert len(submitted(settings, expect=500)) == 500


def test_check_refuses_what_the_validate_agent_would_reject() -> None:
    with pytest.raises(InvalidSignature) as invalid:
        signature(country="UK", email="nobody").check()
    assert set(invalid.value.errors) == {"country", "email"}


def test_no_broker_means_a_typed_error_after_the_delivery_timeout(settings: Settings) -> None:
    nowhere = settings.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"})
    publisher = Publisher(nowhere, delivery_timeout=2.0, attempts=2)
    started = time.monotonic()
    with pytest.raises((PublishFailed, KafkaBusy)) as failed:
        publisher.publish(signature())
    assert isinstance(failed.value, ConnectionError | BufferError)
    assert time.monotonic() - started < 30
    assert publisher.close(timeout=1) == 0


def test_a_full_producer_queue_is_busy_not_a_loss(settings: Settings) -> None:
    create_topics(settings)

    async def publish_all() -> list[object]:
        publisher = AsyncPublisher(settings, queue_limit=1)
        try:
            return await asyncio.gather(
                *(publisher.publish(signature(email=f"q{n}@example.org")) for n in range(50)),
                return_exceptions=True,
            )
        finally:
            await publisher.close()

    outcomes = asyncio.run(publish_all())
    busy = [o for o in outcomes if isinstance(o, KafkaBusy)]
    taken = [o for o in outcomes if not isinstance(o, BaseException)]
    assert busy and taken and len(busy) + len(taken) == 50
    assert all(b.retry_after > 0 for b in busy)
    assert len(submitted(settings, expect=len(taken))) == len(taken)  # busy ones never sent


def publish_at_once(
    settings: Settings, signatures: list[Signature], **options: Any
) -> list[Receipt]:
    """Publish ``signatures`` all at once through one AsyncPublisher(``options``)."""

    async def publish_all() -> list[Receipt]:
        publisher = AsyncPublisher(settings, **options)
        try:
            return await asyncio.gather(*(publisher.publish(s) for s in signatures))
        finally:
            await publisher.close()

    return asyncio.run(publish_all())


def test_coalesced_submissions_share_records_and_each_gets_its_own_place(
    settings: Settings,
) -> None:
    create_topics(settings)
    signatures = [signature(email=f"c{n}@example.org") for n in range(300)]
    receipts = publish_at_once(settings, signatures, coalesce_seconds=0.05, coalesce_max=40)
    assert len({(r.partition, r.offset, r.index) for r in receipts}) == 300  # all distinct
    assert len({(r.partition, r.offset) for r in receipts}) <= 300 / 5  # many to a record
    for sent, receipt in zip(signatures, receipts, strict=True):
        # each on the partition Kafka's partitioner gives its key on its own
        key = submission_key_for(sent.petition_id, sent.email)
        assert receipt.partition == home_partition(key, settings.topic_partitions)
    on_kafka = submitted(settings, expect=300)
    assert sorted(r["signature_id"] for r in on_kafka) == sorted(s.signature_id for s in signatures)


def test_a_quiet_submission_is_not_held_for_company(settings: Settings) -> None:
    create_topics(settings)

    async def publish_one() -> float:
        # Up to 5 s of waiting allowed, but nobody else is signing: out at once.
        publisher = AsyncPublisher(settings, coalesce_seconds=5, coalesce_target=50)
        try:
            started = time.monotonic()
            await publisher.publish(signature())
            return time.monotonic() - started
        finally:
            await publisher.close()

    assert asyncio.run(publish_one()) < 2.5


def test_a_surge_batches_itself_and_each_signature_keeps_its_place(settings: Settings) -> None:
    create_topics(settings)
    signatures = [signature(email=f"s{n}@example.org") for n in range(1200)]
    receipts = publish_at_once(settings, signatures, coalesce_seconds=0.1, coalesce_target=50)
    assert len({(r.partition, r.offset, r.index) for r in receipts}) == 1200
    assert len({(r.partition, r.offset) for r in receipts}) <= 1200 / 5  # many to a record
    on_kafka = submitted(settings, expect=1200)
    assert sorted(r["signature_id"] for r in on_kafka) == sorted(s.signature_id for s in signatures)
