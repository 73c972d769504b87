"""Where the seconds of one end-to-end run go: a timeline of what the agents handled.

    .venv/bin/python -m bench.phases [--events 30000] [--per-record 1] [--hot]

One run of ``bench.pipeline``'s end-to-end scenario (a ready worker and its
``serve``; the records produced at once; the clock stops when every petition's API
counts equal the truth), watched every 0.1 s through the worker's /metrics: how many
submissions validate has judged, how many records validate sent home that dedupe has
settled, how many partial counts the aggregate has read, and the worker's CPU. It
splits the run into its phases: until the first signature is judged (start-up),
until the last one is (the drain), and until the counts are exact (the tail: the
records sent home, then the partial counts, the totals, the sink and the API). That
is how the worker's stalls of 2026-12-07 were found (docs/benchmarks.md). Needs a
broker (make kafka-up). Results go to bench/results/phases-<per record>.json.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench.machine import RESULTS_DIR, cpu_seconds, describe, save_report
from bench.pipeline import WORKER_PORT, api_matches, fresh_settings
from bench.profile_worker import events_in
from streams.testing.cleanup import delete_run_topics
from streams.testing.dataset import dataset_with_truth
from streams.testing.processes import WorkerProcess, prepare, produce

AGENTS = ("validate", "dedupe", "aggregate")
SAMPLE_SECONDS = 0.1


def handled(port: int) -> dict[str, int]:
    """Each agent's events so far (``countersign_agent_events_in``)."""
    found = events_in(port)
    return {agent: int(found.get(agent, 0)) for agent in AGENTS}


def watch(per_record: int, count: int, hot: bool) -> dict[str, Any]:
    workdir = Path(f".data/bench/phases-{uuid.uuid4().hex[:6]}")
    settings = fresh_settings(workdir, "phases")
    events, petitions, truth = dataset_with_truth(
        2 if hot else 1, count, settings, hot_petition=hot
    )
    prepare(settings, petitions)
    log = workdir / "logs" / "worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    timeline: list[dict[str, Any]] = []
    with WorkerProcess(settings, log, WORKER_PORT) as worker:
        worker.start()
        worker.wait_until_ready()
        assert worker.process is not None
        pid = worker.process.pid
        cpu_before = cpu_seconds(pid)
        started = time.perf_counter()
        producer = threading.Thread(
            target=produce, args=(settings, events), kwargs={"per_record": per_record}
        )
        producer.start()
        first = last = None
        while True:
            seconds = time.perf_counter() - started
            sample = handled(worker.metrics_port)
            timeline.append(
                {"s": round(seconds, 2), **sample, "cpu_s": round(cpu_seconds(pid) - cpu_before, 2)}
            )
            if first is None and sample["validate"]:
                first = seconds
            if last is None and sample["validate"] >= len(events):
                last = seconds
            if last is not None and api_matches(WORKER_PORT, petitions, truth):
                break
            if seconds > 600:
                raise SystemExit(
                    f"bench.phases: counts not exact after 600 s; last sample {sample}"
                )
            time.sleep(SAMPLE_SECONDS)
        exact = time.perf_counter() - started
        producer.join()
        worker_cpu = cpu_seconds(pid) - cpu_before
    delete_run_topics(settings)
    return {
        "events": len(events),
        "per_record": per_record,
        "hot_petition": hot,
        "first_judged_s": round(first or 0.0, 2),
        "last_judged_s": round(last or 0.0, 2),
        "exact_s": round(exact, 2),
        "events_per_s": round(len(events) / exact),
        "judged_per_s": round(len(events) / (last or exact)),
        "worker_cpu_us_per_event": round(worker_cpu / len(events) * 1e6),
        "timeline": timeline,
    }


def chart(run: dict[str, Any]) -> str:
    """The timeline every 0.5 s, with each interval's worker CPU, as a table."""
    heads = ("s", "judged", "sent home, settled", "partials read", "worker CPU")
    rows = [" ".join(f"{h:>{w}}" for h, w in zip(heads, (6, 8, 19, 14, 11), strict=True))]
    previous = None
    for sample in run["timeline"]:
        if (
            previous is not None
            and sample["s"] - previous["s"] < 0.5
            and sample is not run["timeline"][-1]
        ):
            continue
        busy = (
            0.0
            if previous is None
            else (sample["cpu_s"] - previous["cpu_s"]) / max(sample["s"] - previous["s"], 1e-9)
        )
        rows.append(
            f"{sample['s']:6.2f} {sample['validate']:8,} {sample['dedupe']:19,} "
            f"{sample['aggregate']:14,} {busy:10.0%}"
        )
        previous = sample
    rows.append(
        f"first judged at {run['first_judged_s']} s, last at {run['last_judged_s']} s, "
        f"counts exact at {run['exact_s']} s: {run['events_per_s']:,} events/s end to end, "
        f"{run['judged_per_s']:,}/s judged"
    )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--per-record", type=int, default=1, help="submissions per record")
    parser.add_argument("--hot", action="store_true", help="all traffic on one petition")
    args = parser.parse_args()
    run = watch(args.per_record, args.events, args.hot)
    print(chart(run))
    target = RESULTS_DIR / f"phases-{args.per_record}.json"
    save_report({"machine": describe(), **run}, target, echo=False)


if __name__ == "__main__":
    main()
