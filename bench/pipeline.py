"""The pipeline end to end against a bare confluent-kafka passthrough of the same
records, measured in one run on one broker: the ratio is the claim, not the seconds.

    .venv/bin/python -m bench.pipeline [--events 1000000]      (make bench-pipeline)

Steps, each on a fresh topic prefix:
1. ceiling: one process consumes signatures.submitted and produces the same bytes;
2. Countersign end to end: the worker is started and ready, every event is produced,
   and the clock stops when the API's counts of every petition equal the reference
   implementation (streams/testing/reference.py): ``e2e_events_per_s``;
3. the same with every open-petition event on one petition: ``hot_petition_events_per_s``;
4. step 2 with the events ``per_record`` to a record (SignatureBatch, as the intake
   coalesces them at a surge; ``BENCH_PER_RECORD``, default 10 and 50), spread and hot;
5. steps 2 and 4 (50 a record) with every readable submission sealed as the intake
   seals it (docs/privacy.md): the cost of encryption to counting;
6. step 2 with two worker processes sharing the partitions (on 2 cores, with the
   broker on the same cores: it shows the cost of a rebalance and of sharing, not a
   second machine).
7. the peer: the same rules in Quix Streams (bench/quix_peer.py: its idioms, its
   RocksDB state) on the passthrough's copy of the records, until its counts equal the
   reference (no ClickHouse sink in the peer; ours includes one).
Also: the worker's peak RSS and the dedupe table's bytes on disk per signature.
Results go to bench/results/pipeline.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import TopicPartition
from confluent_kafka.admin import NewTopic

from bench.machine import RESULTS_DIR, cpu_seconds, describe, peak_rss_mib, save_report
from bench.stages import rules_cost
from streams.core import kafka
from streams.core.errors import KafkaUnavailable
from streams.core.settings import Settings
from streams.core.topics import wait_until_visible
from streams.core.topicspecs import SUBMITTED
from streams.testing.cleanup import delete_run_topics
from streams.testing.dataset import DemoPetition, Event, dataset_with_truth
from streams.testing.processes import WorkerProcess, prepare, produce
from streams.testing.reference import Truth
from streams.testing.sealing import sealed_events

REPO = Path(__file__).resolve().parents[1]
QUIX_PYTHON = REPO / ".venv-quix" / "bin" / "python"
WORKER_PORT = 6098
#: Events the rules are timed on alone before the runs (``bench.stages``).
CALIBRATION_EVENTS = 30_000


def fresh_settings(workdir: Path, label: str) -> Settings:
    """Settings of one bench run: topics of its own, on a broker that answers (else
    the bench stops here and says so, not in a worker's traceback later)."""
    run = uuid.uuid4().hex[:6]
    settings = Settings(topic_prefix=f"bench{run}{label}.", data_dir=workdir / label / "data")
    try:
        kafka.cluster_metadata(kafka.admin_client(settings), settings, 10)
    except KafkaUnavailable as exc:
        raise SystemExit(f"bench: {exc}") from None
    return settings


def passthrough(settings: Settings, count: int) -> float:
    """Seconds for one process to copy ``count`` records of signatures.submitted."""
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


def api_matches(port: int, petitions: list[DemoPetition], truth: Truth) -> bool:
    """Whether the API's counts of every catalogue petition equal the truth."""
    for petition in petitions:
        pid = petition.petition_id
        url = f"http://127.0.0.1:{port}/api/petitions/{pid}/counts"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                counts = json.load(response)
        except OSError:
            return False
        expected_countries = {c: n for (p, _, c), n in truth.counts.items() if p == pid}
        expected_reasons = {r: n for (p, r), n in truth.reasons.items() if p == pid}
        found_reasons = {r: n for r, n in counts["rejected"].items() if n}
        if counts["by_country"] != expected_countries or found_reasons != expected_reasons:
            return False
    return True


def directory_bytes(root: Path, name_part: str) -> int:
    return sum(
        path.stat().st_size
        for path in root.rglob("*")
        if path.is_file() and any(name_part in part for part in path.parts)
    )


def helper_worker(settings: Settings, log: Path, index: int) -> WorkerProcess:
    """Another worker of the same pipeline: its own state directory, no API process
    (one sink per group, and the embedded ClickHouse belongs to the first one's)."""
    return WorkerProcess(
        settings.model_copy(update={"data_dir": settings.data_dir.with_name(f"data{index}")}),
        log.with_name(f"{log.stem}-{index}.log"),
        WORKER_PORT + 10 + index,
        with_api=False,
    )


def end_to_end(  # noqa: PLR0917
    settings: Settings,
    events: list[Event],
    petitions: list[DemoPetition],
    truth: Truth,
    log: Path,
    port: int = WORKER_PORT,
    workers: int = 1,
    per_record: int = 1,
    *,
    keep_topics: bool = False,
) -> dict[str, Any]:
    """Events per second from the first produced event to exact counts in the API
    (``per_record`` > 1: the events travel that many to a record, as the intake's
    coalescing sends them at a surge). The run's topics are deleted after it unless
    ``keep_topics`` (the caller reads them, then deletes them)."""
    prepare(settings, petitions)
    helpers = [helper_worker(settings, log, i) for i in range(1, workers)]
    with WorkerProcess(settings, log, port) as worker:
        # The clock starts once every worker holds its partitions (/readyz), as the
        # Quix peer's starts at its first output: start-up is not throughput.
        worker.start()
        worker.wait_until_ready()
        for helper in helpers:
            helper.start()
            helper.wait_until_ready()
        for member in [worker, *helpers]:  # each rebalanced when the next one joined
            member.wait_until_ready()
        assert worker.process is not None and worker.api is not None
        assert worker.api.process is not None
        pid, api_pid = worker.process.pid, worker.api.process.pid
        cpu_before = cpu_seconds(pid), cpu_seconds(api_pid)
        started = time.perf_counter()
        produce(settings, events, per_record=per_record)
        peak = api_peak = 0.0
        exact = False
        while time.perf_counter() - started < 3600:
            peak = max(peak, peak_rss_mib(pid))
            api_peak = max(api_peak, peak_rss_mib(api_pid))
            if api_matches(port, petitions, truth):
                exact = True
                break
            if not worker.alive():
                raise RuntimeError(f"the worker died:\n{worker.log_tail()}")
            time.sleep(0.5)
        seconds = time.perf_counter() - started
        worker_cpu = cpu_seconds(pid) - cpu_before[0]
        serve_cpu = cpu_seconds(api_pid) - cpu_before[1]
        for helper in helpers:
            helper.stop()
    state = directory_bytes(settings.data_dir / "faust", "dedupe-winners")
    if not keep_topics:
        delete_run_topics(settings)
    return {
        "events_per_s": round(len(events) / seconds),
        "seconds": round(seconds, 1),
        "counts_exact": exact,
        # CPU per event: steadier than the rate on a shared 2-core machine, and it
        # tells which process the time went to (helpers' CPU is not in it).
        "worker_cpu_us_per_event": round(worker_cpu / len(events) * 1e6),
        "serve_cpu_us_per_event": round(serve_cpu / len(events) * 1e6),
        "worker_peak_rss_mib": round(peak),
        "serve_peak_rss_mib": round(api_peak),
        "state_bytes_per_signature": round(state / max(truth.total_accepted(), 1), 1),
    }


def quix_peer(
    settings: Settings, petitions: list[DemoPetition], truth: Truth, workdir: Path
) -> dict[str, Any]:
    """The same rules in Quix Streams (bench/quix_peer.py, its own venv) over the
    records already on ``settings``' signatures.submitted."""
    # make_dataset's clock: syria-icc opens 30 days before it (streams/testing/dataset.py).
    now = next(p.opens_at for p in petitions if p.petition_id == "syria-icc") + timedelta(days=30)
    windows = {
        p.petition_id: [p.opens_at.isoformat(), p.closes_at and p.closes_at.isoformat()]
        for p in petitions
    }
    (workdir / "petitions.json").write_text(json.dumps(windows))
    expect = {
        "counts": [[*key, n] for key, n in truth.counts.items()],
        "reasons": [[*key, n] for key, n in truth.reasons.items()],
    }
    (workdir / "expect.json").write_text(json.dumps(expect))
    done = subprocess.run(
        [
            str(QUIX_PYTHON),
            "bench/quix_peer.py",
            "--bootstrap",
            settings.kafka_bootstrap_servers,
            "--prefix",
            settings.topic_prefix,
            "--petitions",
            str(workdir / "petitions.json"),
            "--hash-key",
            settings.email_hash_key.get_secret_value(),
            "--now",
            now.isoformat(),
            "--expect",
            str(workdir / "expect.json"),
            "--timeout",
            "300",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(f"the Quix Streams peer failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return {"events_per_s": None, "counts_exact": False}
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    # Our clock starts with a worker already up; the peer's at app.run(). Leaving its
    # start-up (until its first output) out favours the peer: a conservative ratio.
    if not result["counts_exact"]:
        print(f"the Quix Streams peer was not exact:\n{done.stderr[-2000:]}", file=sys.stderr)
    steady = result["seconds"] - (result.get("first_output_seconds") or 0.0)
    result["events_per_s_after_start_up"] = round(result["events"] / steady)
    return result


def exact_ratio(run: dict[str, Any], baseline: dict[str, Any] | None) -> float | None:
    """``run``'s rate over ``baseline``'s, when both counted exactly (else no number)."""
    if baseline is None or not (run["counts_exact"] and baseline["counts_exact"]):
        return None
    return round(run["events_per_s"] / baseline["events_per_s"], 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = int(os.environ.get("BENCH_EVENTS", "1000000"))
    parser.add_argument("--events", type=int, default=default)
    args = parser.parse_args()
    workdir = Path(f".data/bench/pipeline-{uuid.uuid4().hex[:6]}")
    workdir.mkdir(parents=True)

    print(f"generating {args.events:,} events and their truth ...", flush=True)
    base = fresh_settings(workdir, "spread")
    events, petitions, truth = dataset_with_truth(1, args.events, base)
    hot_dataset = dataset_with_truth(2, args.events, base, hot_petition=True)
    hot_events, hot_petitions, hot_truth = hot_dataset

    print("passthrough ...", flush=True)
    ceiling = fresh_settings(workdir, "passthrough")
    prepare(ceiling, petitions)
    produce(ceiling, events)
    copy_s = passthrough(ceiling, len(events))
    quix: dict[str, Any] = {"events_per_s": None, "counts_exact": None}
    if QUIX_PYTHON.exists():
        print("Quix Streams peer ...", flush=True)
        quix = quix_peer(ceiling, petitions, truth, workdir)
    else:
        print("no .venv-quix: the Quix Streams peer is skipped (make bench-pipeline)")
    delete_run_topics(ceiling)

    # The rules alone, on a quiet machine, just before the runs: the floor one worker
    # cannot beat, and a yardstick for this hour's host (bench.stages).
    print("the rules alone (bench.stages), 1 and 50 per record ...", flush=True)
    sample = events[:CALIBRATION_EVENTS]
    rules_alone = [rules_cost(base, sample, petitions, n) for n in (1, 50)]

    print("end to end, petitions spread ...", flush=True)
    spread = end_to_end(base, events, petitions, truth, workdir / "spread.log")
    print("end to end, one hot petition ...", flush=True)
    hot_settings = fresh_settings(workdir, "hot")
    hot = end_to_end(hot_settings, hot_events, hot_petitions, hot_truth, workdir / "hot.log")
    print("end to end, petitions spread, two workers ...", flush=True)
    two_settings = fresh_settings(workdir, "two")
    two = end_to_end(
        two_settings, events, petitions, truth, workdir / "two.log", WORKER_PORT, workers=2
    )

    batched: dict[str, Any] = {}
    for per_record in [int(n) for n in os.environ.get("BENCH_PER_RECORD", "10,50").split(",")]:
        for label, data in (("spread", (events, petitions, truth)), ("hot", hot_dataset)):
            print(f"end to end, {per_record} per record, {label} ...", flush=True)
            name = f"{label}-{per_record}-per-record"
            batched[name] = end_to_end(
                fresh_settings(workdir, name.replace("-", "")),
                *data,
                workdir / f"{name}.log",
                per_record=per_record,
            )

    print("end to end, sealed, one and 50 per record ...", flush=True)
    sealed_data = (sealed_events(base, events), petitions, truth)
    sealed = end_to_end(fresh_settings(workdir, "sealed"), *sealed_data, workdir / "sealed.log")
    sealed_50 = end_to_end(
        fresh_settings(workdir, "sealed50"), *sealed_data, workdir / "sealed50.log", per_record=50
    )
    clear_50 = batched.get("spread-50-per-record")

    passthrough_rate = round(len(events) / copy_s)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "events": len(events),
        "accepted": truth.total_accepted(),
        "rejected_or_duplicate": truth.total_rejected(),
        "passthrough_events_per_s": passthrough_rate,
        "e2e_events_per_s": spread["events_per_s"],
        "e2e_vs_passthrough": round(spread["events_per_s"] / passthrough_rate, 3),
        "hot_petition_events_per_s": hot["events_per_s"],
        "quix_events_per_s": quix.get("events_per_s_after_start_up"),
        "quix_counts_exact": quix.get("counts_exact"),
        # A ratio only when both sides were exact: an inexact side earned no number.
        "e2e_vs_quix": round(spread["events_per_s"] / quix["events_per_s_after_start_up"], 2)
        if quix.get("counts_exact") and spread["counts_exact"]
        else None,
        "e2e_two_workers_events_per_s": two["events_per_s"],
        **{
            f"e2e_{name.replace('-', '_')}_events_per_s": run["events_per_s"]
            for name, run in batched.items()
        },
        "e2e_sealed_events_per_s": sealed["events_per_s"],
        "e2e_sealed_50_per_record_events_per_s": sealed_50["events_per_s"],
        # Sealed against clear in this run, a ratio only when both were exact.
        "sealed_vs_clear": exact_ratio(sealed, spread),
        "sealed_vs_clear_50_per_record": exact_ratio(sealed_50, clear_50),
        "counts_exact": all(
            run["counts_exact"] for run in (spread, hot, two, sealed, sealed_50, *batched.values())
        ),
        "worker_peak_rss_mib": max(
            run["worker_peak_rss_mib"] for run in (spread, hot, *batched.values())
        ),
        "serve_peak_rss_mib": max(
            run["serve_peak_rss_mib"] for run in (spread, hot, *batched.values())
        ),
        "state_bytes_per_signature": spread["state_bytes_per_signature"],
        "rules_alone": rules_alone,
        "runs": {
            "spread": spread,
            "hot_petition": hot,
            "two_workers": two,
            "quix": quix,
            "sealed": sealed,
            "sealed-50-per-record": sealed_50,
            **batched,
        },
    }
    save_report(report, RESULTS_DIR / "pipeline.json")


if __name__ == "__main__":
    main()
