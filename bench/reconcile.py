"""How long ``countersign reconcile`` takes to recount the log: 1,000,000 events by
default, every reason code among them.

Writes the events once (the demo generator, single records or batches of
``--per-record``), then times, in one run on one machine:

* the recount alone with one process and with one per core (``recount_log``), and
* the whole command, ``countersign reconcile --settle 0 --format json``, against a
  ``countersign serve`` whose tables are empty (no worker ran): it reads the log,
  recounts, asks serve and exits 1 because nothing was counted. Its time is what
  an auditor waits for.

    python -m bench.reconcile                 # 1,000,000 events
    python -m bench.reconcile --events 100000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.machine import RESULTS_DIR, describe, peak_rss_mib, save_report
from bench.pipeline import fresh_settings
from streams.audit.reconcile import petition_windows, recount_log
from streams.core.logscan import whole_log
from streams.core.settings import Settings
from streams.core.topicspecs import SUBMITTED
from streams.demo.simulator import DatasetGenerator, default_petitions
from streams.testing.cleanup import run_topics_deleted
from streams.testing.processes import REPO, ServeProcess, free_port, prepare, produce

CHUNK = 50_000


def write_events(settings: Settings, events: int, per_record: int) -> dict[str, int]:
    now = datetime.now(UTC).replace(microsecond=0)
    petitions = default_petitions(now)
    prepare(settings, petitions)
    generator = DatasetGenerator(1, petitions, now)
    written = 0
    started = time.perf_counter()
    while written < events:
        chunk = [generator.event(i) for i in generator.random_intents(min(CHUNK, events - written))]
        produce(settings, chunk, per_record=per_record)
        written += len(chunk)
        print(f"  written {written:,} events ({time.perf_counter() - started:.0f} s)", flush=True)
    return {"events": written}


def time_recount(settings: Settings, workers: int) -> dict[str, float]:
    log = whole_log(settings, SUBMITTED.name)
    windows = petition_windows(settings)
    started = time.perf_counter()
    recount = recount_log(settings, log, windows, lambda _: None, workers=workers)
    seconds = time.perf_counter() - started
    return {
        "workers": workers,
        "seconds": round(seconds, 2),
        "events_per_s": round(recount.events / seconds),
        "signatures": sum(recount.counts().values()),
    }


def time_command(settings: Settings, workdir: Path) -> dict[str, object]:
    port = free_port()
    with ServeProcess(settings, workdir / "serve.log", port) as serve:
        serve.start({})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            probe = subprocess.run(
                ["curl", "-fs", f"http://127.0.0.1:{port}/healthz"],
                capture_output=True,
                check=False,
            )
            if probe.returncode == 0:
                break
            time.sleep(0.5)
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "COUNTERSIGN_TOPIC_PREFIX": settings.topic_prefix,
            "COUNTERSIGN_DATA_DIR": str(settings.data_dir),
            "COUNTERSIGN_API_PORT": str(port),
        }
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "streams", "reconcile", "--settle", "0", "--format", "json"],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        peak = 0.0
        while child.poll() is None:
            with contextlib.suppress(OSError):  # it may have just ended
                peak = max(peak, peak_rss_mib(child.pid))
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        assert child.stdout is not None
        report = json.loads(child.stdout.read())
    return {
        "seconds": round(seconds, 2),
        "exit_code": child.returncode,
        "events": report["events"],
        "peak_rss_mib_main_process": round(peak),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-record", type=int, default=1)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-reconcile-") as tmp,
        run_topics_deleted(fresh_settings(Path(tmp), "reconcile")) as settings,
    ):
        workdir = Path(tmp)
        print(f"writing {args.events:,} events…", flush=True)
        written = write_events(settings, args.events, args.per_record)
        runs = [time_recount(settings, workers) for workers in (1, os.cpu_count() or 1)]
        for run in runs:
            print(f"  recount with {run['workers']} process(es): {run['seconds']} s", flush=True)
        command = time_command(settings, workdir)
        print(f"  countersign reconcile: {command['seconds']} s", flush=True)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "per_record": args.per_record,
        **written,
        "recount": runs,
        "speedup": round(runs[0]["seconds"] / runs[-1]["seconds"], 2),
        "command": command,
    }
    save_report(report, RESULTS_DIR / "reconcile.json")


if __name__ == "__main__":
    main()
