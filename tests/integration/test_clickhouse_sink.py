"""The ClickHouse sink on the real broker and the real ClickHouse engine (chDB)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from clickhouse_connect.driver.client import Client

from schemas.codec import codec
from sinks.clickhouse.client import connect
from sinks.clickhouse.migrate import migrate, migrations
from sinks.clickhouse.sink import ClickHouseSink
from streams.core import kafka
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.core.topicspecs import ACCEPTED, DUPLICATES, REJECTED

NOW = datetime(2026, 6, 1, tzinfo=UTC)
COUNTRIES = [
    ("SY", "Middle East and North Africa"),
    ("BR", "Americas"),
    ("IN", "Asia and the Pacific"),
]


def accepted(n: int, *, offset: int) -> dict[str, object]:
    country, region = COUNTRIES[n % len(COUNTRIES)]
    return {
        "signature_id": f"sig-{n}",
        "petition_id": "p",
        "email_hash": f"{n:064x}",
        "full_name": f"Signer {n}",
        "consent_to_publish_name": True,
        "country": country,
        "region": region,
        "postal_code": None,
        "submitted_at": NOW + timedelta(seconds=n),
        "accepted_at": NOW + timedelta(seconds=n),
        "source": "api",
        "locale": None,
        "source_topic": "signatures.submitted",
        "source_partition": 0,
        "source_offset": offset,
    }


def rejected(offset: int, reason: str) -> dict[str, object]:
    return {
        "signature_id": None,
        "petition_id": "p",
        "reason": reason,
        "detail": "x",
        "email_hash": None,
        "original": None,
        "received_at": NOW,
        "source_topic": "signatures.submitted",
        "source_partition": 1,
        "source_offset": offset,
    }


def publish(settings: Settings, topic: str, records: list[dict[str, object]], kind: str) -> None:
    producer = kafka.producer(settings)
    for record in records:
        producer.produce(settings.topic(topic), codec(kind).encode(record), b"k")
    assert producer.flush(30) == 0


def counts(client: Client, database: str) -> Counter[tuple[str, str, str]]:
    rows = client.query(
        f"SELECT petition_id, region, country, sum(signatures) FROM {database}.signature_counts "
        "GROUP BY petition_id, region, country"
    ).result_rows
    return Counter({(p, r, c): int(n) for p, r, c, n in rows})


def ready_store(settings: Settings) -> tuple[Client, str]:
    """The test's ClickHouse database, migrated, and its Kafka topics, created."""
    client = connect(settings.clickhouse_target)
    migrate(client, settings.clickhouse_database)
    create_topics(settings)
    return client, settings.clickhouse_database


def drain(sink: ClickHouseSink, expected_rows: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while sink.stats.rows < expected_rows and time.monotonic() < deadline:
        sink.run_once()


def test_migrations_apply_once_in_order(sink_settings: Settings) -> None:
    client = connect(sink_settings.clickhouse_target)
    database = sink_settings.clickhouse_database
    assert [m.version for m in migrate(client, database)] == [m.version for m in migrations()]
    assert migrate(client, database) == []
    tables = {row[0] for row in client.query(f"SHOW TABLES FROM {database}").result_rows}
    assert {"signatures", "signature_counts", "signatures_per_minute", "rejections"} <= tables


def test_counts_equal_the_distinct_signatures_even_when_delivered_twice(
    sink_settings: Settings,
) -> None:
    client, database = ready_store(sink_settings)
    records = [accepted(n, offset=n) for n in range(300)]
    # A replay after a crash: the same signatures again, later in the topic.
    publish(sink_settings, ACCEPTED.name, records + records[:100], "SignatureAccepted")
    publish(
        sink_settings,
        REJECTED.name,
        [rejected(o, "invalid_email") for o in range(7)],
        "SignatureRejected",
    )
    expected = Counter(("p", r, c) for c, r in (COUNTRIES[n % 3] for n in range(300)))

    drain(ClickHouseSink(sink_settings, client), expected_rows=407)
    assert counts(client, database) == expected

    # The sink's offsets are lost (a new consumer group): everything is written again.
    again = sink_settings.model_copy(update={"app_id": "countersign-again"})
    drain(ClickHouseSink(again, client), expected_rows=407)
    assert counts(client, database) == expected
    rejections = client.query(
        f"SELECT reason, count() FROM {database}.rejections FINAL GROUP BY reason"
    ).result_rows
    assert rejections == [("invalid_email", 7)]


def test_nothing_is_lost_while_clickhouse_refuses_writes(sink_settings: Settings) -> None:
    client, database = ready_store(sink_settings)
    sink = ClickHouseSink(sink_settings, client)
    publish(
        sink_settings,
        ACCEPTED.name,
        [accepted(n, offset=n) for n in range(50)],
        "SignatureAccepted",
    )
    drain(sink, expected_rows=50)

    # The table really goes away: every insert fails until it is back.
    client.command(f"DETACH TABLE {database}.signatures")
    publish(
        sink_settings,
        ACCEPTED.name,
        [accepted(n, offset=n) for n in range(50, 120)],
        "SignatureAccepted",
    )
    stop = threading.Event()

    def keep_sinking() -> None:
        while not stop.is_set():
            sink.run_once(stop)

    runner = threading.Thread(target=keep_sinking)
    runner.start()
    deadline = time.monotonic() + 30
    while sink.stats.failures < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sink.stats.failures >= 2
    client.command(f"ATTACH TABLE {database}.signatures")
    deadline = time.monotonic() + 60
    while sink.stats.rows < 120 and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    runner.join(30)
    assert sum(counts(client, database).values()) == 120
    assert sink.stats.stalled_seconds > 0


def test_a_record_its_columns_cannot_hold_is_skipped_and_the_rest_lands(
    sink_settings: Settings,
) -> None:
    client, database = ready_store(sink_settings)
    records = [accepted(n, offset=n) for n in range(20)]
    hostile = [
        {**accepted(100, offset=100), "source_partition": 70_000},  # a UInt16
        {**accepted(101, offset=101), "email_hash": "f" * 300},  # a FixedString(64)
    ]
    # Kafka's own partitioner may spread them; each partition's batch holds good ones.
    publish(
        sink_settings, ACCEPTED.name, records[:10] + hostile + records[10:], "SignatureAccepted"
    )
    sink = ClickHouseSink(sink_settings, client)
    drain(sink, expected_rows=20)
    sink.run_once()  # a further cycle: nothing left to write, nothing retried
    assert counts(client, database) == Counter(
        ("p", r, c) for c, r in (COUNTRIES[n % 3] for n in range(20))
    )
    assert sink.stats.skipped_unreadable == 2
    assert sink.stats.failures == 0
    assert sink.lag() == 0


def test_a_sealed_signature_lands_sealed_and_a_clear_one_without_a_key(
    sink_settings: Settings,
) -> None:
    client, database = ready_store(sink_settings)
    sealed_bytes = bytes(range(256))  # any bytes: the sink never opens them
    records = [
        accepted(0, offset=0)
        | {"full_name": "", "personal": sealed_bytes, "data_key_id": "0f" * 8},
        accepted(1, offset=1),
    ]
    publish(sink_settings, ACCEPTED.name, records, "SignatureAccepted")
    sink = ClickHouseSink(sink_settings, client)
    drain(sink, 2)
    rows = client.query(
        f"SELECT signature_id, full_name, personal, data_key_id FROM {database}.signatures FINAL "
        "ORDER BY signature_id",
        column_formats={"personal": "bytes"},  # raw, not decoded as UTF-8 text
    ).result_rows
    assert [tuple(row) for row in rows] == [
        ("sig-0", "", sealed_bytes, "0f" * 8),
        ("sig-1", "Signer 1", None, ""),
    ]


def test_the_records_of_every_topic_partition_of_a_table_go_in_as_one_insert_a_poll(
    sink_settings: Settings,
) -> None:
    """An embedded insert costs ~20 ms however small: rejections and duplicates of six
    partitions each, read in one poll, are one insert into ``rejections``."""
    client, database = ready_store(sink_settings)
    producer = kafka.producer(sink_settings)
    partitions = sink_settings.topic_partitions
    for offset in range(60):
        for topic, reason in ((REJECTED.name, "malformed"), (DUPLICATES.name, "duplicate")):
            position = offset if reason == "malformed" else 1000 + offset  # 120 rows
            value = codec("SignatureRejected").encode(rejected(position, reason))
            topic_name = sink_settings.topic(topic)
            producer.produce(topic_name, value, b"p", partition=offset % partitions)
    assert producer.flush(30) == 0
    sink = ClickHouseSink(sink_settings, client)
    cycles_that_wrote = 0
    deadline = time.monotonic() + 60
    while sink.stats.rows < 120 and time.monotonic() < deadline:
        cycles_that_wrote += sink.run_once() > 0
    sink.consumer.close()
    assert sink.stats.rows == 120
    assert cycles_that_wrote < 2 * partitions  # some poll held several topic-partitions
    assert sink.stats.batches == cycles_that_wrote
    stored = client.query(f"SELECT count() FROM {database}.rejections FINAL").result_rows
    assert stored == [(120,)]


def test_times_land_to_the_millisecond(sink_settings: Settings) -> None:
    client, database = ready_store(sink_settings)
    submitted = datetime(2026, 3, 1, 9, 30, 15, 123_000, tzinfo=UTC)
    signature = accepted(1, offset=0) | {
        "submitted_at": submitted,
        "accepted_at": submitted + timedelta(milliseconds=4_567),
    }
    publish(sink_settings, ACCEPTED.name, [signature], "SignatureAccepted")
    refusal = rejected(0, "invalid_email") | {"received_at": submitted - timedelta(milliseconds=1)}
    publish(sink_settings, REJECTED.name, [refusal], "SignatureRejected")

    drain(ClickHouseSink(sink_settings, client), expected_rows=2)

    [(at, taken)] = client.query(
        f"SELECT submitted_at, accepted_at FROM {database}.signatures"
    ).result_rows
    [(received,)] = client.query(f"SELECT received_at FROM {database}.rejections").result_rows
    # The client reads DateTime64(3, 'UTC') as naive datetimes in UTC.
    assert at.replace(tzinfo=UTC) == submitted
    assert taken.replace(tzinfo=UTC) == submitted + timedelta(milliseconds=4_567)
    assert received.replace(tzinfo=UTC) == submitted - timedelta(milliseconds=1)
