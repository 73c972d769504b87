"""Three KRaft nodes, replication factor 3, min.insync.replicas=2: an acks=all
producer loses nothing when one node is killed with SIGKILL mid-stream."""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

from streams.core import kafka
from streams.core.settings import Settings
from streams.core.topics import wait_until_visible
from tests.conftest import kafka_sh

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.kills]


def test_cluster_has_three_brokers_and_replicates_three_ways(cluster: dict[str, str]) -> None:
    admin = AdminClient({"bootstrap.servers": cluster["bootstrap"]})
    admin.create_topics([NewTopic("rf3-check", 3)])["rf3-check"].result()
    wait_until_visible(admin, ["rf3-check"])
    metadata = admin.list_topics(timeout=10)
    assert len(metadata.brokers) == 3
    replicas = {len(p.replicas) for p in metadata.topics["rf3-check"].partitions.values()}
    assert replicas == {3}


def test_no_acknowledged_message_is_lost_when_a_node_is_killed(cluster: dict[str, str]) -> None:
    settings = Settings(kafka_bootstrap_servers=cluster["bootstrap"])
    topic = "acked-survive"
    admin = AdminClient({"bootstrap.servers": cluster["bootstrap"]})
    admin.create_topics([NewTopic(topic, 6, 3, config={"min.insync.replicas": "2"})])[
        topic
    ].result()
    wait_until_visible(admin, [topic])

    producer = kafka.producer(settings, **{"delivery.timeout.ms": 60_000})
    acknowledged: set[bytes] = set()
    failed: list[str] = []
    stop = threading.Event()

    def on_delivery(error: object, message: object) -> None:
        if error is None:
            acknowledged.add(message.value())  # type: ignore[attr-defined]
        else:
            failed.append(str(error))

    def keep_sending() -> None:
        n = 0
        while not stop.is_set():
            producer.produce(
                topic, f"event-{n}".encode(), f"k{n % 50}".encode(), on_delivery=on_delivery
            )
            producer.poll(0)
            n += 1
            time.sleep(0.0005)

    sender = threading.Thread(target=keep_sending)
    sender.start()
    time.sleep(3)
    sent_before_kill = len(acknowledged)
    kafka_sh("kill", "2", "--cluster", env=cluster)  # SIGKILL, no clean shutdown
    time.sleep(8)
    stop.set()
    sender.join()
    assert producer.flush(60) == 0
    assert sent_before_kill > 0
    assert len(acknowledged) > sent_before_kill, "the producer stalled after the kill"

    consumer = Consumer(
        {
            "bootstrap.servers": cluster["bootstrap"],
            "group.id": "acked-survive.check",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    stored: set[bytes] = set()
    deadline = time.monotonic() + 60
    while not acknowledged <= stored and time.monotonic() < deadline:
        for message in consumer.consume(5000, timeout=1.0):
            if message.error() is None:
                stored.add(message.value())
    consumer.close()
    missing = acknowledged - stored
    print(f"acknowledged={len(acknowledged)} stored={len(stored)} failed={len(failed)}")
    assert missing == set(), f"{len(missing)} acknowledged messages are missing"
    kafka_sh("start", "2", "--cluster", env=cluster)
