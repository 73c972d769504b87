"""Throughput with 1, 2 and 3 workers on the 3-node cluster (replication factor 3,
min.insync.replicas 2), measured in one run: where the curve flattens on this machine.

    .venv/bin/python -m bench.scale [--events 30000]       (make bench-scale)

Each run has topics of its own and the same events; the clock runs from the first
produced event until the API's counts equal the reference implementation (as
bench/pipeline.py's end to end). Helper workers get state directories of their own.
A ratio to one worker is printed only when both runs were exact. Starts the cluster
(``deploy/kafka/kafka.sh up --cluster``) unless one answers, and stops what it started.
Results go to bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machine import RESULTS_DIR, describe, save_report
from bench.pipeline import WORKER_PORT, end_to_end
from streams.core import kafka
from streams.core.errors import KafkaUnavailable
from streams.core.settings import Settings
from streams.testing.dataset import dataset_with_truth

REPO = Path(__file__).resolve().parents[1]
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"
CLUSTER = "127.0.0.1:19092,127.0.0.1:19192,127.0.0.1:19292"


def cluster_settings(workdir: Path, label: str) -> Settings:
    return Settings(
        kafka_bootstrap_servers=CLUSTER,
        topic_prefix=f"scale{uuid.uuid4().hex[:6]}{label}.",
        topic_replication_factor=3,
        data_dir=workdir / label / "data",
    )


def cluster_answers(settings: Settings) -> bool:
    try:
        metadata = kafka.cluster_metadata(kafka.admin_client(settings), settings, 5)
    except KafkaUnavailable:
        return False
    return len(metadata.brokers) == 3


def kafka_sh(*args: str) -> None:
    subprocess.run(
        [str(KAFKA_SH), *args, "--cluster"],
        env={**os.environ, "PYTHON": sys.executable},
        check=True,
        stdout=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=int(os.environ.get("BENCH_EVENTS", "30000")))
    args = parser.parse_args()
    workdir = REPO / ".data" / "bench" / f"scale-{uuid.uuid4().hex[:6]}"
    workdir.mkdir(parents=True)
    started = not cluster_answers(cluster_settings(workdir, "probe"))
    if started:
        print("starting the 3-node cluster ...", flush=True)
        kafka_sh("up")
    try:
        dataset = dataset_with_truth(1, args.events, cluster_settings(workdir, "x"))
        events, petitions, truth = dataset
        runs: dict[str, dict[str, Any]] = {}
        for workers in (1, 2, 3):
            print(f"end to end on the cluster, {workers} worker(s) ...", flush=True)
            settings = cluster_settings(workdir, f"w{workers}")
            runs[str(workers)] = end_to_end(
                settings,
                events,
                petitions,
                truth,
                workdir / f"w{workers}.log",
                WORKER_PORT,
                workers=workers,
            )
    finally:
        if started:
            kafka_sh("down")
    one = runs["1"]
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "cluster": "3 KRaft nodes on this machine, replication factor 3, min.insync.replicas 2",
        "events": len(events),
        "events_per_s": {n: run["events_per_s"] for n, run in runs.items()},
        "counts_exact": {n: run["counts_exact"] for n, run in runs.items()},
        # A ratio only when both sides were exact.
        "vs_one_worker": {
            n: round(run["events_per_s"] / one["events_per_s"], 2)
            for n, run in runs.items()
            if run["counts_exact"] and one["counts_exact"]
        },
        "runs": runs,
    }
    save_report(report, RESULTS_DIR / "scale.json")


if __name__ == "__main__":
    main()
