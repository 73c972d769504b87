"""Rows per second from Kafka into the embedded ClickHouse (chDB) by the sink alone,
for several batch sizes, in one run.

    .venv/bin/python -m bench.sink_throughput [--rows 100000]

Picks the batch size for ``COUNTERSIGN_SINK_BATCH_SIZE``: bigger batches amortize the
insert, but a batch is also the unit of retry and of latency to the dashboard. First,
the sink's own Python per row (decode, row, fit check), in CPU µs: steadier than the
rows per second on a shared machine.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.machine import RESULTS_DIR, describe, save_report
from schemas.codec import codec
from sinks.clickhouse.client import connect
from sinks.clickhouse.migrate import migrate
from sinks.clickhouse.sink import ClickHouseSink
from streams.core import kafka
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.core.topicspecs import ACCEPTED

RESULTS = RESULTS_DIR / "sink_throughput.json"
BATCH_SIZES = (500, 2000, 5000, 20000)
COUNTRIES = [
    ("SY", "Middle East and North Africa"),
    ("FR", "Europe and Central Asia"),
    ("BR", "Americas"),
    ("IN", "Asia and the Pacific"),
    ("NG", "Africa"),
]


def accepted_values(rows: int) -> list[bytes]:
    """``rows`` encoded SignatureAccepted records over five countries."""
    now = datetime.now(UTC)
    encode = codec("SignatureAccepted").encode
    values = []
    for n in range(rows):
        country, region = COUNTRIES[n % len(COUNTRIES)]
        record = {
            "signature_id": f"s{n}",
            "petition_id": "bench",
            "email_hash": f"{n:064x}",
            "full_name": f"Signer {n}",
            "consent_to_publish_name": True,
            "country": country,
            "region": region,
            "postal_code": None,
            "submitted_at": now - timedelta(seconds=n),
            "accepted_at": now,
            "source": "api",
            "locale": None,
            "source_topic": "signatures.submitted",
            "source_partition": n % 6,
            "source_offset": n,
        }
        values.append(encode(record))
    return values


def fill(settings: Settings, values: list[bytes]) -> None:
    producer = kafka.producer(settings)
    for n, value in enumerate(values):
        while True:
            try:
                producer.produce(settings.topic(ACCEPTED.name), value, str(n).encode())
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(60)


def python_us_per_row(sink: ClickHouseSink, settings: Settings, values: list[bytes]) -> float:
    """CPU µs per row of the sink's own Python before an insert: the record decoded,
    made a row and checked against its columns (best of five passes). The insert
    itself runs in ClickHouse's threads and is not in it."""
    route = sink.routes[settings.topic(ACCEPTED.name)]
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for value in values:
            sink.misfit(route, route.row(value, 0))
        best = min(best, time.process_time() - started)
    return best / len(values) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:6]
    base = Settings(topic_prefix=f"sinkbench{run}.", data_dir=Path(f".data/bench/sink-{run}"))
    create_topics(base)
    values = accepted_values(args.rows)
    fill(base, values)
    client = connect(base.clickhouse_target)
    migrate(client, base.clickhouse_database)
    per_row = python_us_per_row(ClickHouseSink(base, client), base, values[:20_000])
    print(f"decode, row and fit check: {per_row:.1f} µs of CPU per row")
    report: dict[str, object] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "rows": args.rows,
        "python_us_per_row": round(per_row, 1),
        "by_batch_size": {},
    }
    for size in BATCH_SIZES:
        settings = base.model_copy(
            update={
                "clickhouse_database": f"bench_{size}",
                "sink_batch_size": size,
                "app_id": f"countersign-{size}",
            }
        )
        migrate(client, settings.clickhouse_database)
        sink = ClickHouseSink(settings, client)
        started = time.perf_counter()
        while sink.stats.rows < args.rows:
            sink.run_once()
        seconds = time.perf_counter() - started
        sink.consumer.close()
        stored = client.query(
            f"SELECT count() FROM {settings.clickhouse_database}.signatures FINAL"
        ).result_rows[0][0]
        assert stored == args.rows, (stored, args.rows)
        report["by_batch_size"][size] = {  # type: ignore[index]
            "rows_per_s": round(args.rows / seconds),
            "batches": sink.stats.batches,
        }
        print(
            f"batch size {size:>6}: {args.rows / seconds:>9,.0f} rows/s "
            f"({sink.stats.batches} batches)"
        )
    save_report(report, RESULTS, echo=False)


if __name__ == "__main__":
    main()
