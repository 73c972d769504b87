"""Events per second through the three agents, against a bare confluent-kafka
passthrough of the same events, measured in the same run on the same broker.

    .venv/bin/python -m bench.pipeline_throughput [--events 50000]

The passthrough (consume signatures.submitted, produce the same bytes elsewhere) is
the ceiling for one Python process on this broker: the ratio says what validation,
deduplication, aggregation and Faust cost on top of moving the bytes.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import TopicPartition
from confluent_kafka.admin import NewTopic

from bench.machine import describe, peak_rss_mib
from streams import kafka
from streams.settings import Settings
from streams.topics import SUBMITTED, wait_until_visible
from tests.dataset import dataset_with_truth
from tests.pipeline import Results, WorkerProcess, prepare, produce

RESULTS_DIR = Path(__file__).with_name("results")


def passthrough(settings: Settings, count: int) -> float:
    """Seconds for one process to copy ``count`` records to another topic."""
    source = settings.topic(SUBMITTED.name)
    target = settings.topic("bench.passthrough")
    admin = kafka.admin_client(settings)
    admin.create_topics([NewTopic(target, settings.topic_partitions, 1)])[target].result()
    wait_until_visible(admin, [target])
    consumer = kafka.consumer(settings, group_id=f"{settings.topic_prefix}passthrough")
    partitions = kafka.cluster_metadata(admin, settings, 10).topics[source].partitions
    consumer.assign([TopicPartition(source, p, 0) for p in partitions])
    producer = kafka.producer(settings, **{"message.max.bytes": 4 * 1024 * 1024})
    copied = 0
    started = time.perf_counter()
    while copied < count:
        for message in consumer.consume(1000, timeout=1.0):
            if message.error():
                continue
            while True:
                try:
                    producer.produce(target, message.value(), message.key())
                    break
                except BufferError:
                    producer.poll(0.05)
            copied += 1
        producer.poll(0)
    producer.flush(60)
    consumer.close()
    return time.perf_counter() - started


def pipeline(settings: Settings, truth: object, workdir: Path) -> tuple[float, float, float]:
    """(seconds from start to exact counts, seconds from first output, peak RSS MiB)."""
    results = Results(settings)
    worker = WorkerProcess(settings, workdir / "worker.log", 6099)
    started = time.perf_counter()
    worker.start()
    first_output = None
    peak = 0.0
    try:
        while not results.matches(truth):  # type: ignore[arg-type]
            results.poll(0.5)
            assert worker.process is not None
            peak = max(peak, peak_rss_mib(worker.process.pid))
            if first_output is None and (results.latest or results.verdicts):
                first_output = time.perf_counter()
            if time.perf_counter() - started > 1800:
                raise TimeoutError(f"pipeline did not finish:\n{worker.log_tail()}")
        done = time.perf_counter()
    finally:
        worker.stop()
        results.close()
    return done - started, done - (first_output or started), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:6]
    workdir = Path(f".data/bench/{run}")
    workdir.mkdir(parents=True)
    settings = Settings(topic_prefix=f"bench{run}.", data_dir=workdir / "data")

    events, petitions, truth = dataset_with_truth(1, args.events, settings)
    prepare(settings, petitions)
    started = time.perf_counter()
    produce(settings, events)
    produce_s = time.perf_counter() - started
    count = len(events)

    copy_s = passthrough(settings, count)
    total_s, steady_s, peak = pipeline(settings, truth, workdir)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "events": count,
        "accepted": truth.total_accepted(),
        "rejected_or_duplicate": truth.total_rejected(),
        "produce_events_per_s": round(count / produce_s),
        "passthrough_events_per_s": round(count / copy_s),
        "pipeline_events_per_s": round(count / steady_s),
        "pipeline_events_per_s_including_startup": round(count / total_s),
        "pipeline_vs_passthrough": round(copy_s / steady_s, 3),
        "worker_peak_rss_mib": round(peak),
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "pipeline_throughput.json").write_text(json.dumps(report, indent=2) + "\n")
    width = max(map(len, report))
    for name, value in report.items():
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
