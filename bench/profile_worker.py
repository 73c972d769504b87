"""Where the worker's time goes: py-spy samples one worker while it drains a prepared
log, then the top functions by own time and by total time are printed.

    .venv/bin/python -m bench.profile_worker [--events 30000] [--seconds 30] [--per-record 1]
                                             [--process worker|serve] [--wall]

Samples are of the thread holding the GIL (Python's CPU time) unless ``--wall``.

The log is produced before the worker starts, so the profile is of steady
consumption, not of start-up. Output: bench/results/profile-<label>.txt (the table)
and the raw collapsed stacks next to it, for a flame graph.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bench.machine import RESULTS_DIR
from bench.pipeline import WORKER_PORT, fresh_settings
from streams.core.settings import Settings
from streams.testing.cleanup import delete_run_topics
from streams.testing.dataset import dataset_with_truth
from streams.testing.processes import WorkerProcess, ops_headers, prepare, produce


def top(raw: Path, limit: int) -> str:
    """Own-time and total-time tables from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [
            frame.split(" (")[0] + " " + frame.split("/")[-1].rstrip(")")
            for frame in stack.split(";")
        ]
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    lines = [f"{samples} samples", "", "own time:"]
    lines += [f"{100 * n / samples:5.1f}%  {name}" for name, n in own.most_common(limit)]
    lines += ["", "total time:"]
    lines += [f"{100 * n / samples:5.1f}%  {name}" for name, n in total.most_common(limit)]
    return "\n".join(lines)


def metric_samples(port: int, settings: Settings) -> list[Sample]:
    """Every sample a process of ours serves on ``port``'s /metrics (the ops token's
    scrape), parsed by prometheus_client."""
    scrape = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers=ops_headers(settings)
    )
    with urllib.request.urlopen(scrape, timeout=5) as response:
        text = response.read().decode()
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def events_in(port: int) -> dict[str, float]:
    """The worker's ``countersign_agent_events_in`` counters, by agent."""
    return {
        sample.labels["agent"]: sample.value
        for sample in metric_samples(port, Settings())
        if sample.name == "countersign_agent_events_in_total"
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--label", default="worker")
    parser.add_argument(
        "--per-record", type=int, default=1, help="submissions per record (SignatureBatch)"
    )
    parser.add_argument("--after", type=float, default=2.0, help="seconds before sampling")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument(
        "--process",
        choices=("worker", "serve"),
        default="worker",
        help="sample the worker, or serve (the sink and the API) while the worker runs",
    )
    parser.add_argument(
        "--wall",
        action="store_true",
        help="sample every thread that is not idle, not only the one holding the GIL",
    )
    parser.add_argument("py_spy", nargs="*", help="more py-spy options, after --")
    args = parser.parse_args()
    # Only the thread holding the GIL: a thread blocked in C (librdkafka's poll, a
    # watermark request) otherwise counts as busy, and a wait looks like a cost.
    gil = [] if args.wall else ["--gil"]
    workdir = Path(f".data/bench/profile-{uuid.uuid4().hex[:6]}")
    settings = fresh_settings(workdir, "profile")
    workdir.mkdir(parents=True)
    events, petitions, _truth = dataset_with_truth(1, args.events, settings)
    prepare(settings, petitions)
    produce(settings, events, per_record=args.per_record)
    RESULTS_DIR.mkdir(exist_ok=True)
    raw = RESULTS_DIR / f"profile-{args.label}.collapsed"
    with WorkerProcess(settings, workdir / "worker.log", WORKER_PORT) as worker:
        worker.start()
        worker.wait_until_serving()
        assert worker.process is not None and worker.api is not None
        sampled = worker.process if args.process == "worker" else worker.api.process
        assert sampled is not None
        time.sleep(args.after)
        before = events_in(worker.metrics_port)
        subprocess.run(
            [
                str(Path(sys.executable).with_name("py-spy")),
                *("record", "-p", str(sampled.pid), "-d", str(args.seconds)),
                *("-r", "200", "-f", "raw", "-o", str(raw), "--nonblocking", *gil, *args.py_spy),
            ],
            check=True,
            capture_output=True,
        )
        after = events_in(worker.metrics_port)
    delete_run_topics(settings)
    rates = {
        agent: round((after[agent] - before.get(agent, 0.0)) / args.seconds) for agent in after
    }
    table = f"events/s while sampled: {rates}\n" + top(raw, args.top)
    (RESULTS_DIR / f"profile-{args.label}.txt").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
