"""A followed copy of a compacted topic (``streams.core.following``) says it is fresh
while writes go on: every record logged by a moment is applied soon after, even when
the next record is always on its way (the demo's 20 signers a second kept the
mailer's copy of keys.signers from ever looking fresh)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import NewTopic

from streams.core import kafka
from streams.core.errors import CountersignError
from streams.core.following import CompactedReader, Following
from streams.core.settings import Settings

pytestmark = [pytest.mark.integration]
PARTITIONS = 6


@pytest.fixture
def topic(settings: Settings) -> str:
    name = settings.topic("following-test")
    admin = kafka.admin_client(settings)
    config = {"cleanup.policy": "compact"}
    for future in admin.create_topics([NewTopic(name, PARTITIONS, 1, config=config)]).values():
        future.result(30)
    deadline = time.monotonic() + 30
    # Until the whole cluster's metadata (what the reader's load asks for) has it.
    while name not in kafka.cluster_metadata(admin, settings, 10).topics:
        assert time.monotonic() < deadline, f"{name} did not appear"
        time.sleep(0.2)
    return name


class Writer(threading.Thread):
    """Writes a record every ``pause`` seconds, round the partitions, until stopped;
    remembers when Kafka took each one."""

    def __init__(self, settings: Settings, topic: str, pause: float) -> None:
        super().__init__(daemon=True)
        self.producer = kafka.producer(settings)
        self.topic, self.pause = topic, pause
        self.stopped = threading.Event()
        self.taken: dict[bytes, float] = {}

    def run(self) -> None:
        n = 0
        while not self.stopped.is_set():
            key = f"k{n}".encode()
            self.producer.produce(self.topic, b"v", key, partition=n % PARTITIONS)
            self.producer.flush(10)
            self.taken[key] = time.time()
            n += 1
            time.sleep(self.pause)


@pytest.fixture
def writer(settings: Settings, topic: str) -> Iterator[Writer]:
    running = Writer(settings, topic, pause=0.02)  # ~50 a second: always one on its way
    running.start()
    yield running
    running.stopped.set()
    running.join(10)


def test_the_copy_is_fresh_as_of_each_moment_within_seconds_while_writes_go_on(
    settings: Settings, topic: str, writer: Writer
) -> None:
    applied: set[bytes] = set()

    def reader() -> CompactedReader:
        return CompactedReader(
            settings,
            topic,
            lambda key, _: applied.add(key or b""),
            group="following-test",
            missing=CountersignError,
        )

    following = Following("following-test", reader)
    following.start()
    try:
        for _ in range(5):
            time.sleep(0.5)
            asked_at = time.time()
            assert following.ensure_fresh(asked_at, timeout=5.0), "never fresh"
            logged = {key for key, at in list(writer.taken.items()) if at <= asked_at}
            assert logged <= applied  # fresh as of then means all of it applied
    finally:
        following.stop()


def test_partition_ends_are_each_partitions_low_and_high_offsets(
    settings: Settings, topic: str
) -> None:
    records_per_partition = {0: 2, 2: 5}  # the other partitions stay empty
    producer = kafka.producer(settings)
    for partition, count in records_per_partition.items():
        for n in range(count):
            producer.produce(topic, b"v", f"k{n}".encode(), partition=partition)
    assert producer.flush(30) == 0
    admin = kafka.admin_client(settings)
    ends = kafka.partition_ends(admin, topic, list(range(PARTITIONS)), timeout=10)
    assert ends == {p: (0, records_per_partition.get(p, 0)) for p in range(PARTITIONS)}
