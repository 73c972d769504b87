"""The seed campaign replayed: 165,953 people through the live pipeline, then
``countersign replay --from 0`` of the whole log into a namespace, timed, with the
replay's counts checked against the live ones.

    python -m bench.replay_seed
    python -m bench.replay_seed --signatures 20000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from bench.machine import RESULTS_DIR, describe, save_report
from bench.pipeline import fresh_settings
from streams.demo.campaign import SEED_PETITION, SEED_SIGNATURES
from streams.testing.cleanup import run_topics_deleted
from streams.testing.processes import WorkerProcess, free_port


def live_total(port: int) -> int:
    url = f"http://127.0.0.1:{port}/api/petitions/{SEED_PETITION}/counts"
    with urllib.request.urlopen(url, timeout=30) as answer:
        return int(json.load(answer)["total"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=SEED_SIGNATURES)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp,
        run_topics_deleted(fresh_settings(Path(tmp), "replay")) as settings,
    ):
        workdir = Path(tmp)
        with WorkerProcess(settings, workdir / "worker.log", free_port()) as worker:
            worker.start()
            worker.wait_until_serving()
            print(f"seed campaign: {args.signatures:,} people into Kafka…", flush=True)
            campaign = [
                "simulate",
                "--profile",
                "seed-campaign",
                "--signatures",
                str(args.signatures),
            ]
            worker.run(campaign, workdir / "simulate.log")
            while live_total(worker.web_port) < args.signatures:
                assert worker.alive(), worker.log_tail()
                time.sleep(5)
            print("  counted live; replaying…", flush=True)
            started = time.perf_counter()
            done = worker.run(
                ["replay", "--from", "0", "--into", "seed", "--format", "json"],
                workdir / "replay.log",
                expect=None,
            )
            seconds = time.perf_counter() - started
    answer = json.loads(done.stdout)
    (seed,) = [p for p in answer["petitions"] if p["petition"] == SEED_PETITION]
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "signatures": args.signatures,
        "range": answer["range"],
        "replay_seconds": round(seconds, 1),
        "exit_code": done.returncode,
        "live_total": seed["live"]["total"],
        "replay_total": seed["replay"]["total"],
        "countries_equal": seed["live"]["by_country"] == seed["replay"]["by_country"],
        "rejections_equal": seed["live"]["rejected"] == seed["replay"]["rejected"],
    }
    save_report(report, RESULTS_DIR / "replay_seed.json")


if __name__ == "__main__":
    main()
