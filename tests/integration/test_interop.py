"""confluent-kafka (our producers and tools) and aiokafka (Faust's driver) see the same
bytes on the real broker, both ways."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.codec import AvroCodec
from streams.core import kafka
from streams.core.settings import Settings
from streams.core.topics import wait_until_visible

EVENTS = 10_000
PARTITIONS = 6
NAMES = ["Amira Haddad", "Иван Петров", "अनिल कुमार", "王芳", "José Álvarez", "Ngozi Okafor"]

Record = tuple[int, bytes, bytes]  # (partition, key, value)


def signature_events(count: int, seed: int) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs: real SignatureSubmitted messages, keyed by petition."""
    rng = random.Random(seed)
    codec = AvroCodec("SignatureSubmitted")
    start = datetime(2026, 3, 1, tzinfo=UTC)
    events = []
    for i in range(count):
        petition = f"petition-{rng.randrange(5)}"
        value = codec.encode(
            {
                "signature_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "petition_id": petition,
                "full_name": rng.choice(NAMES),
                "email": f"user{i}@example.org",
                "country": rng.choice(["SY", "FR", "IN", "CN", "BR", "NG"]),
                "consent_to_publish_name": rng.random() < 0.5,
                "submitted_at": start + timedelta(milliseconds=i),
                "source": "web-form",
            }
        )
        events.append((petition.encode(), value))
    return events


def make_topic(settings: Settings, name: str) -> str:
    topic = settings.topic(name)
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result()
    wait_until_visible(admin, [topic])
    return topic


def produce_with_confluent(
    settings: Settings, topic: str, events: list[tuple[bytes, bytes]]
) -> None:
    producer = kafka.producer(settings)
    failures: list[str] = []
    for key, value in events:
        producer.produce(
            topic, value, key, on_delivery=lambda err, _m: err and failures.append(str(err))
        )
        producer.poll(0)
    assert producer.flush(30) == 0
    assert failures == []


def consume_with_confluent(settings: Settings, topic: str, count: int) -> list[Record]:
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"{topic}.reader",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    records: list[Record] = []
    deadline = datetime.now(UTC) + timedelta(seconds=60)
    while len(records) < count and datetime.now(UTC) < deadline:
        for message in consumer.consume(1000, timeout=1.0):
            assert message.error() is None
            records.append((message.partition(), message.key(), message.value()))
    consumer.close()
    return records


async def produce_with_aiokafka(
    settings: Settings, topic: str, events: list[tuple[bytes, bytes]]
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value=value, key=key) for key, value in events]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def consume_with_aiokafka(settings: Settings, topic: str, count: int) -> list[Record]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"{topic}.reader",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Record] = []
    try:
        async with asyncio.timeout(60):
            while len(records) < count:
                batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
                for messages in batches.values():
                    records.extend((m.partition, m.key, m.value) for m in messages)
    finally:
        await consumer.stop()
    return records


def by_partition(records: list[Record]) -> dict[int, list[tuple[bytes, bytes]]]:
    """Kafka orders within a partition only; compare per partition, in order."""
    grouped: dict[int, list[tuple[bytes, bytes]]] = {}
    for partition, key, value in records:
        grouped.setdefault(partition, []).append((key, value))
    return grouped


def test_confluent_producer_to_aiokafka_consumer(settings: Settings) -> None:
    topic = make_topic(settings, "interop.c2a")
    events = signature_events(EVENTS, seed=1)
    produce_with_confluent(settings, topic, events)
    received = asyncio.run(consume_with_aiokafka(settings, topic, EVENTS))
    assert len(received) == EVENTS
    assert sorted(kv for _, *kv in received) == sorted(list(kv) for kv in events)
    # Same key, same partition, and within a partition the production order is kept.
    for key_value_list in by_partition(received).values():
        keys = {key for key, _ in key_value_list}
        sent_in_order = [kv for kv in events if kv[0] in keys]
        assert key_value_list == sent_in_order


def test_aiokafka_producer_to_confluent_consumer(settings: Settings) -> None:
    topic = make_topic(settings, "interop.a2c")
    events = signature_events(EVENTS, seed=2)
    asyncio.run(produce_with_aiokafka(settings, topic, events))
    received = consume_with_confluent(settings, topic, EVENTS)
    assert len(received) == EVENTS
    assert sorted(kv for _, *kv in received) == sorted(list(kv) for kv in events)
    for key_value_list in by_partition(received).values():
        keys = {key for key, _ in key_value_list}
        sent_in_order = [kv for kv in events if kv[0] in keys]
        assert key_value_list == sent_in_order


def test_both_clients_put_a_key_on_the_same_partition(settings: Settings) -> None:
    """librdkafka's default partitioner is CRC32-based; ours is set to murmur2 like the
    Java client and aiokafka, so Faust and our producers agree on where a key lives."""
    topic_c = make_topic(settings, "interop.part.c")
    topic_a = make_topic(settings, "interop.part.a")
    events = signature_events(200, seed=3)
    produce_with_confluent(settings, topic_c, events)
    asyncio.run(produce_with_aiokafka(settings, topic_a, events))
    via_confluent = {key: p for p, key, _ in consume_with_confluent(settings, topic_c, 200)}
    via_aiokafka = {key: p for p, key, _ in consume_with_confluent(settings, topic_a, 200)}
    assert via_confluent == via_aiokafka
