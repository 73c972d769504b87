"""The worker's output producer (``streams.worker.outputs``) against the real broker:
a flush means Kafka has every record handed over, on the partition it was given;
an output Kafka does not take reaches ``on_failure`` (which halts the worker) before
the commit that would have followed the flush."""

from __future__ import annotations

import asyncio
from collections import Counter

from streams.core.logscan import scan, whole_log
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.core.topicspecs import REJECTED
from streams.worker.outputs import OutputProducer


def test_after_a_flush_kafka_has_every_output_on_its_partition(settings: Settings) -> None:
    create_topics(settings)
    topic = settings.topic(REJECTED.name)
    failures: list[str] = []
    outputs = OutputProducer(settings, on_failure=failures.append)
    sent = Counter({partition: 0 for partition in range(settings.topic_partitions)})
    for n in range(3_000):
        partition = n % settings.topic_partitions
        outputs.produce(topic, f"k{n}".encode(), f"v{n}".encode(), partition, [("h", b"x")])
        sent[partition] += 1
    asyncio.run(outputs.close())
    assert failures == [], failures
    log = whole_log(settings, REJECTED.name)
    on_kafka = Counter(record.partition for record in scan(settings, log))
    assert on_kafka == sent


def test_an_output_kafka_refuses_reaches_on_failure_at_the_flush(settings: Settings) -> None:
    create_topics(settings)
    topic = settings.topic(REJECTED.name)
    failures: list[str] = []
    outputs = OutputProducer(settings, on_failure=failures.append)
    outputs.produce(topic, b"k", b"v", settings.topic_partitions + 5, None)  # no such partition
    asyncio.run(outputs.close())
    assert failures, "a lost output went unnoticed"
    assert f"Kafka did not take an output on {topic}" in failures[0]


def test_tracked_records_report_every_offset_kafka_gave_each_partition_in_order(
    settings: Settings,
) -> None:
    """What a table's changelog records in the store as its persisted offset."""
    create_topics(settings)
    topic = settings.topic(REJECTED.name)
    failures: list[str] = []
    outputs = OutputProducer(settings, on_failure=failures.append)
    outputs.produce(topic, b"untracked", b"v", 0, None)
    for n in range(5):
        outputs.produce(topic, b"k", f"v{n}".encode(), 1, None, tracked=True)
    outputs.produce(topic, b"k", b"v", 2, None, tracked=True)
    asyncio.run(outputs.flush())
    delivered = outputs.take_delivered()
    assert delivered == {(topic, 1): [0, 1, 2, 3, 4], (topic, 2): [0]}  # a fresh topic
    assert outputs.take_delivered() == {}
    asyncio.run(outputs.close())
    assert failures == []
