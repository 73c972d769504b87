"""How fast ``countersign intake`` starts and how much memory it holds, per checkout.

    .venv/bin/python -m bench.intake_startup [CHECKOUT ...]      (default: this one)

For each checkout (e.g. an older commit in a ``git worktree``), three runs in turn:
start ``python -m streams intake`` from it, time until ``/healthz`` answers 200, read
its resident memory, stop it. Needs a broker on KAFKA_BOOTSTRAP_SERVERS (``make
kafka-up``). The intake must not load Faust or ClickHouse: this shows what that buys.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.machine import peak_rss_mib
from streams.testing.processes import free_port

REPO = Path(__file__).resolve().parents[1]


def start_once(checkout: Path) -> tuple[float, float]:
    """(seconds until /healthz answered, peak RSS in MiB by then) of one intake."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(checkout),
        "COUNTERSIGN_TOPIC_PREFIX": f"startup{port}.",
        "COUNTERSIGN_DATA_DIR": str(REPO / ".data" / "bench" / f"startup-{port}"),
    }
    started = time.perf_counter()
    intake = subprocess.Popen(
        [sys.executable, "-m", "streams", "intake", "--port", str(port)],
        cwd=checkout,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                if intake.poll() is not None:
                    raise RuntimeError(f"the intake from {checkout} exited") from None
                time.sleep(0.02)
        ready = time.perf_counter() - started
        rss = peak_rss_mib(intake.pid)
    finally:
        intake.terminate()
        intake.wait(30)
    return ready, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="*", type=Path, default=[REPO])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs: dict[Path, list[tuple[float, float]]] = {c: [] for c in args.checkouts}
    for _ in range(args.runs):
        for checkout in args.checkouts:
            runs[checkout].append(start_once(checkout.resolve()))
    for checkout, results in runs.items():
        ready = statistics.median(r for r, _ in results)
        rss = statistics.median(m for _, m in results)
        print(f"{checkout}: ready in {ready:.2f} s (median of {len(results)}), RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
