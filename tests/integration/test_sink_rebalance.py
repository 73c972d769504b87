"""The ClickHouse sink while ClickHouse refuses writes: it keeps every record when
partitions move between it and another member of its group (a second serve in a
rolling restart), and it leaves the group at once when stopped. Real broker, real
chDB. The other member reads records but never writes or commits any."""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable

from clickhouse_connect.driver.client import Client
from confluent_kafka import ConsumerGroupState, TopicPartition

from schemas.codec import codec
from sinks.clickhouse.client import connect
from sinks.clickhouse.migrate import migrate
from sinks.clickhouse.service import SinkService
from streams.core import kafka
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.core.topicspecs import ACCEPTED
from tests.integration.test_clickhouse_sink import COUNTRIES, accepted, counts

#: The signatures 0-299 by (petition, region, country): what ClickHouse must count.
EXPECTED = Counter(("p", r, c) for c, r in (COUNTRIES[n % 3] for n in range(300)))


def sink_threads() -> str:
    """Where each sink thread is now: a timeout says what the sink was doing (a CI run
    once timed out here with the sink silent after its first refused write)."""
    frames = sys._current_frames()
    return "\n".join(
        f"--- {thread.name}:\n" + "".join(traceback.format_stack(frames[thread.ident]))
        for thread in threading.enumerate()
        if thread.name == "clickhouse-sink" and thread.ident in frames
    )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{sink_threads()}")
        time.sleep(0.2)


def publish_spread(settings: Settings, numbers: range) -> None:
    """Signatures ``numbers`` on signatures.accepted, keyed apart so that every
    partition gets some."""
    producer = kafka.producer(settings)
    for n in numbers:
        value = codec("SignatureAccepted").encode(accepted(n, offset=n))
        producer.produce(settings.topic(ACCEPTED.name), value, f"key-{n}".encode())
    assert producer.flush(30) == 0


class Member(threading.Thread):
    """Another consumer in the sink's group, polling (staying in it) until closed. Its
    partitions are counted by its rebalance callbacks: asking a consumer from another
    thread while it rebalances can deadlock."""

    def __init__(self, settings: Settings, group_id: str, topics: list[str]) -> None:
        super().__init__(daemon=True)
        self.partitions: set[tuple[str, int]] = set()
        self.consumer = kafka.consumer(settings, group_id=group_id)
        self.consumer.subscribe(topics, on_assign=self._assigned, on_revoke=self._revoked)
        self.closing = threading.Event()
        self.start()

    def _assigned(self, _: object, partitions: list[TopicPartition]) -> None:
        self.partitions = {(tp.topic, tp.partition) for tp in partitions}

    def _revoked(self, _: object, partitions: list[TopicPartition]) -> None:
        self.partitions = set()

    def run(self) -> None:
        while not self.closing.is_set():
            self.consumer.poll(0.2)
        self.consumer.close()

    def assigned(self) -> int:
        return len(self.partitions)

    def leave(self) -> None:
        self.closing.set()
        self.join(30)


def signatures_in(client: Client, database: str) -> int:
    return sum(counts(client, database).values())


def refusing_writes(settings: Settings, client: Client) -> SinkService:
    """A running sink service that has written signatures 0-59 and now waits on
    ClickHouse, which refuses its writes (the signatures table is detached) of 60-299."""
    database = settings.clickhouse_database
    migrate(client, database)
    create_topics(settings)
    service = SinkService(settings, connect(settings.clickhouse_target))
    service.start()
    publish_spread(settings, range(60))
    wait_for(lambda: signatures_in(client, database) == 60, 60, "the first 60 rows")
    client.command(f"DETACH TABLE {database}.signatures")
    publish_spread(settings, range(60, 300))
    wait_for(lambda: service.sink.stats.failures >= 1, 30, "a refused write")
    return service


def test_no_record_is_dropped_from_partitions_first_assigned_while_clickhouse_refuses_writes(
    sink_settings: Settings,
) -> None:
    """The other member holds half of the partitions from the start; it leaves during
    the outage, and the sink is given partitions it never had."""
    settings = sink_settings
    database = settings.clickhouse_database
    client = connect(settings.clickhouse_target)  # the test's own session
    migrate(client, database)
    create_topics(settings)
    sink = SinkService(settings, connect(settings.clickhouse_target))
    other = Member(settings, sink.sink.group_id, list(sink.sink.routes))
    try:
        wait_for(lambda: other.assigned() > 0, 60, "the other member's partitions")
        sink.start()
        every = len(sink.sink.routes) * settings.topic_partitions
        wait_for(lambda: 0 < sink.sink.partitions < every, 60, "a share")
        client.command(f"DETACH TABLE {database}.signatures")  # every insert fails now
        publish_spread(settings, range(300))
        wait_for(lambda: sink.sink.stats.failures >= 1, 30, "a refused write")

        other.leave()
        wait_for(lambda: sink.sink.partitions == every, 60, "every partition")
        time.sleep(2)  # the sink polls its new partitions while ClickHouse refuses

        client.command(f"ATTACH TABLE {database}.signatures")
        wait_for(lambda: signatures_in(client, database) >= 300, 120, "300 signatures")
        wait_for(
            lambda: kafka.group_lag(settings, sink.sink.group_id, list(sink.sink.routes)) == 0,
            60,
            "the sink's offsets committed to the end",
        )
        assert counts(client, database) == EXPECTED
        assert sink.alive
    finally:
        other.leave()
        sink.stop()


def test_no_record_is_dropped_when_partitions_move_while_clickhouse_refuses_writes(
    sink_settings: Settings,
) -> None:
    settings = sink_settings
    database = settings.clickhouse_database
    client = connect(settings.clickhouse_target)  # the test's own session
    sink = refusing_writes(settings, client)
    try:
        # Another member joins: the partitions are shared out, then all come back.
        other = Member(settings, sink.sink.group_id, list(sink.sink.routes))
        wait_for(lambda: other.assigned() > 0, 60, "the other member's partitions")
        time.sleep(2)
        other.leave()
        every = len(sink.sink.routes) * settings.topic_partitions
        wait_for(
            lambda: sink.sink.partitions == every,
            60,
            "every partition back with the sink",
        )
        time.sleep(2)  # the sink polls its partitions again while ClickHouse refuses

        client.command(f"ATTACH TABLE {database}.signatures")
        wait_for(lambda: signatures_in(client, database) >= 300, 120, "300 signatures")
        wait_for(
            lambda: kafka.group_lag(settings, sink.sink.group_id, list(sink.sink.routes)) == 0,
            60,
            "the sink's offsets committed to the end",
        )
        assert counts(client, database) == EXPECTED
        assert sink.alive
    finally:
        sink.stop()


def test_a_sink_stopped_while_clickhouse_refuses_writes_leaves_its_group(
    sink_settings: Settings,
) -> None:
    client = connect(sink_settings.clickhouse_target)
    sink = refusing_writes(sink_settings, client)
    try:
        started = time.monotonic()
        sink.stop()
        stopped_in = time.monotonic() - started
        group_id = sink.sink.group_id
        admin = kafka.admin_client(sink_settings)
        group = admin.describe_consumer_groups([group_id])[group_id].result(timeout=10)
    finally:
        client.command(f"ATTACH TABLE {sink_settings.clickhouse_database}.signatures")
    assert not sink.alive and sink.failure is None  # stopped, not dead
    assert stopped_in < 10
    assert group.state == ConsumerGroupState.EMPTY
