"""From an intake POST to the count visible in the API, at a steady offered rate.

    .venv/bin/python -m bench.visibility_latency [--rate 2000] [--duration 30] [--client vegeta]

Starts a worker and an intake on a fresh topic prefix and offers the seed campaign's
first-time signers (every one of them is accepted) to the intake, open loop (request i
is due at start + i / rate, and measured from then however late it goes), from
vegeta (bench/vegeta.py; Python's client, bench/intake_latency.py, with ``--client
python``: it needs about a core of its own at 2,000/s, which this machine does not
have). A thread polls the API's
total every 100 ms. The k-th signature by scheduled time is taken as visible at the
first poll whose total is at least k: the count-based latency of a FIFO. The pipeline
is not strictly FIFO across partitions, so a single signature may become visible a
little earlier or later than its rank says; the distribution is what is claimed, with
the 100 ms polling step as its resolution. Results: bench/results/visibility_latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import math
import resource
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bench.intake_latency import (
    LATE_SECONDS,
    Step,
    broker_pid,
    cpu_seconds,
    ms,
    percentile,
    run_step,
    signatures,
)
from bench.machine import RESULTS_DIR, describe, save_report
from bench.vegeta import attack, require_vegeta
from streams.catalogue.store import publish_petition
from streams.core.children import free_port
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.demo.campaign import SEED_PETITION, seed_petition
from streams.testing.cleanup import delete_run_topics
from streams.testing.processes import IntakeProcess, WorkerProcess

RESULTS = RESULTS_DIR / "visibility_latency.json"
POLL_SECONDS = 0.1


class TotalPoller(threading.Thread):
    """(monotonic time, total) of the API every POLL_SECONDS, in a thread of its own
    so that the load client's event loop does not delay it."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.times: list[float] = []
        self.totals: list[int] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    total = int(json.load(response)["total"])
            except OSError:
                total = self.totals[-1] if self.totals else 0
            self.times.append(time.monotonic())
            self.totals.append(total)
            self.stopped.wait(POLL_SECONDS)

    def visible_at(self, k: int) -> float | None:
        """When the total first reached ``k`` (totals never decrease)."""
        index = bisect.bisect_left(self.totals, k)
        return self.times[index] if index < len(self.times) else None


class CoresMeter:
    """The cores each group of processes kept busy from its creation to ``read``; the
    load client is this process's children that ended meanwhile (vegeta) plus
    this process itself (the Python client)."""

    def __init__(self, pids: dict[str, list[int | None]]) -> None:
        self.pids = pids
        self.started = time.monotonic()
        self.marks = self._seconds()

    def _seconds(self) -> dict[str, float]:
        seconds = {name: sum(map(cpu_seconds, group)) for name, group in self.pids.items()}
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = resource.getrusage(resource.RUSAGE_SELF)
        seconds["load_client"] = sum(
            (usage.ru_utime + usage.ru_stime for usage in (children, own)), 0.0
        )
        return seconds

    def read(self) -> dict[str, float | None]:
        wall = time.monotonic() - self.started
        now = self._seconds()
        return {
            name: None
            if math.isnan(now[name] - self.marks[name])
            else round((now[name] - self.marks[name]) / wall, 2)
            for name in now
        }


#: Requests the load client keeps open at once; one due beyond it is dropped unsent.
MAX_IN_FLIGHT = 1024


async def offer(url: str, bodies: list[tuple[bytes, str]], rate: float) -> Step:
    """The offered load's outcome: ``accepted_scheduled`` (the scheduled times of the
    requests that got 202), and the requests never sent (``dropped``: ``MAX_IN_FLIGHT``
    were open)."""
    connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT, limit_per_host=MAX_IN_FLIGHT)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:
        step = await run_step(session, url, bodies, rate, cap=MAX_IN_FLIGHT)
    print(f"statuses: {dict(step.statuses)}; dropped unsent: {step.dropped}", flush=True)
    return step


@dataclass
class Load:
    """The offered load's outcome, whichever client sent it."""

    accepted_sent: list[float]  # when each request answered 202 was due, sorted
    statuses: dict[str, int]
    sent: int
    dropped: int  # never sent: due while MAX_IN_FLIGHT were open, or after vegeta's end
    late: int  # sent more than LATE_SECONDS after they were due (vegeta's workers busy)


def offer_load(  # noqa: PLR0917
    client: str,
    url: str,
    bodies: list[tuple[bytes, str]],
    requests: int,
    rate: float,
    seconds: float,
    workdir: Path,
) -> Load:
    if client == "vegeta":
        done = attack(url, bodies, rate, seconds, workdir)
        print(f"statuses: {dict(done.counted)}", flush=True)
        late = sum(1 for seconds in done.late if seconds > LATE_SECONDS)
        # vegeta stops at the end of the run: what its busy workers could not send by
        # then is never sent, as the Python client drops what finds its cap reached.
        unsent = requests - len(done.due)
        return Load(done.accepted_sent(), dict(done.counted), len(done.due), unsent, late)
    step = asyncio.run(offer(url, bodies[:requests], rate))
    sent = requests - step.dropped
    return Load(sorted(step.accepted_scheduled), dict(step.statuses), sent, step.dropped, step.late)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument(
        "--coalesce-ms",
        type=float,
        default=Settings().intake_coalesce_ms,
        help="the intake's COUNTERSIGN_INTAKE_COALESCE_MS (0: a record per signature)",
    )
    parser.add_argument(
        "--coalesce-target",
        type=int,
        default=Settings().intake_coalesce_target,
        help="the intake's COUNTERSIGN_INTAKE_COALESCE_TARGET (signatures a record aims at)",
    )
    parser.add_argument(
        "--client",
        choices=("vegeta", "python"),
        default="vegeta",
        help="the load generator: vegeta (Go, .cache/bin/vegeta) or aiohttp in this process",
    )
    parser.add_argument(
        "--intakes",
        type=int,
        default=1,
        help="intake processes sharing the port (COUNTERSIGN_INTAKE_REUSE_PORT): one "
        "Python event loop per core",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.client == "vegeta":
        require_vegeta()  # before minutes of set-up
    run = uuid.uuid4().hex[:8]
    workdir = Path(f".data/bench/visibility-{run}")
    workdir.mkdir(parents=True)
    settings = Settings(topic_prefix=f"bench-visible-{run}.", data_dir=workdir / "data")
    requests = round(args.rate * args.duration)
    # vegeta reads its targets round robin: a few spare, so that none is sent twice.
    bodies = signatures(1, requests + max(100, requests // 100))
    create_topics(settings)
    publish_petition(settings, seed_petition(datetime.now(UTC), confirmation="none"))

    worker = WorkerProcess(settings, workdir / "worker.log", free_port())
    port = free_port()
    intakes = [
        IntakeProcess(settings, workdir / f"intake-{n}.log", port) for n in range(args.intakes)
    ]
    for intake in intakes:
        intake.extra_env["COUNTERSIGN_INTAKE_RATE_LIMITS"] = "1000000/60"
        intake.extra_env["COUNTERSIGN_INTAKE_COALESCE_MS"] = str(args.coalesce_ms)
        intake.extra_env["COUNTERSIGN_INTAKE_COALESCE_TARGET"] = str(args.coalesce_target)
        intake.extra_env["COUNTERSIGN_INTAKE_REUSE_PORT"] = str(args.intakes > 1).lower()
    with worker, contextlib.ExitStack() as running:
        for intake in intakes:
            running.enter_context(intake)
        worker.start()
        worker.wait_until_serving()
        for intake in intakes:
            intake.start(wait_for_petition=SEED_PETITION)
        poller = TotalPoller(
            f"http://127.0.0.1:{worker.web_port}/api/petitions/{SEED_PETITION}/counts"
        )
        poller.start()
        url = f"{intakes[0].url}/petitions/{SEED_PETITION}/signatures"
        meter = CoresMeter(
            {
                "intake": [intake.pid for intake in intakes],
                "worker": [worker.pid],
                "serve": [worker.api.pid] if worker.api is not None else [],
                "broker": [broker_pid()],
            }
        )
        load = offer_load(args.client, url, bodies, requests, args.rate, args.duration, workdir)
        cores = meter.read()
        print("cores busy while the load ran: " + ", ".join(f"{k} {v}" for k, v in cores.items()))
        scheduled = load.accepted_sent
        deadline = time.monotonic() + 120
        while (not poller.totals or poller.totals[-1] < len(scheduled)) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.2)
        poller.stopped.set()
        poller.join()
    delete_run_topics(settings)

    latencies = []
    for k, sent in enumerate(scheduled, start=1):
        seen = poller.visible_at(k)
        if seen is not None:
            latencies.append(seen - sent)
    latencies.sort()
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "method": __doc__.split("\n\n")[2].replace("\n", " "),
        "offered_per_s": args.rate,
        "client": args.client,
        # What the latencies are of: a load client on the same machine that finds
        # MAX_IN_FLIGHT requests open drops the next (Python) or sends it late, and
        # not after the run's end (vegeta), so an overloaded run says so here.
        "scheduled": requests,
        "sent": load.sent,
        "dropped_unsent": load.dropped,
        "sent_late": load.late,
        "statuses": load.statuses,
        "accepted_per_s": round(len(scheduled) / args.duration),
        "intakes": args.intakes,
        "intake_coalesce_ms": args.coalesce_ms,
        "intake_coalesce_target": args.coalesce_target,
        "seconds": args.duration,
        "accepted": len(scheduled),
        # Cores each process kept busy while the load ran (the load client: vegeta, or
        # this process with --client python): where a saturated machine's time went.
        "cpu_cores": cores,
        "visible_in_api": poller.totals[-1] if poller.totals else 0,
        "all_visible": len(latencies) == len(scheduled),
        "latency_ms": {
            "p50": ms(percentile(latencies, 0.50)),
            "p95": ms(percentile(latencies, 0.95)),
            "p99": ms(percentile(latencies, 0.99)),
            "max": ms(latencies[-1]) if latencies else None,
        },
    }
    save_report(report, args.output)


if __name__ == "__main__":
    main()
