"""Requests per second and latency of the HTTP intake at fixed offered rates.

    .venv/bin/python -m bench.intake_latency [--rates 250 500 1000 2000] [--duration 15]
    .venv/bin/python -m bench.intake_latency --quick      # a short smoke run

Starts ``countersign intake`` on a free port against a fresh topic prefix, then POSTs
valid JSON signatures (the seed campaign's) to /petitions/syria-icc/signatures with an
open-loop asyncio client: request i of a step is *scheduled* at start + i / rate,
whether or not earlier requests have been answered, and its latency is measured from
that scheduled time, so a slow server cannot slow the client down and hide its own
queueing (coordinated omission). At most --max-in-flight requests are open at once; a
request due while the cap is reached is not sent and counted as dropped.

Every 202 means Kafka acknowledged the event (acks=all, idempotent producer): at the
end the submissions on signatures.submitted must equal the 202s. The rate limits are set
to 1,000,000 per minute so that the limiter's 429s are not what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.machine import RESULTS_DIR, describe, peak_rss_mib, save_report
from schemas.batch import items_of
from streams.catalogue.store import publish_petition
from streams.core.logscan import scan, whole_log
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.core.topicspecs import SUBMITTED
from streams.demo.campaign import SEED_PETITION, SeedCampaign, seed_petition
from streams.testing.cleanup import delete_run_topics
from streams.testing.processes import IntakeProcess, free_port

RESULTS = RESULTS_DIR / "intake_latency.json"
RATES = (250, 500, 1000, 2000, 3000, 4000)
QUICK_RATES = (100, 400)
#: A request sent this much after its scheduled time counts as late (the client lagged).
LATE_SECONDS = 0.010
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Step:
    """What one offered rate gave."""

    rate: float
    scheduled: int = 0
    dropped: int = 0  # due while --max-in-flight requests were open: never sent
    late: int = 0  # sent more than LATE_SECONDS after their scheduled time
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # of the 202s, from schedule
    accepted_scheduled: list[float] = field(default_factory=list)  # loop time of each 202
    send_lags: list[float] = field(default_factory=list)
    peak_in_flight: int = 0
    seconds: float = 0.0  # first scheduled request to the last answer
    samples: dict[str, str] = field(default_factory=dict)  # one body per non-202 status
    cpu: dict[str, float | None] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        accepted = self.statuses.get("202", 0)
        lat = sorted(self.latencies)
        lag = sorted(self.send_lags)
        return {
            "offered_per_s": int(self.rate) if self.rate == int(self.rate) else self.rate,
            "scheduled": self.scheduled,
            "sent": self.scheduled - self.dropped,
            "dropped_at_cap": self.dropped,
            "late_over_10ms": self.late,
            "statuses": dict(sorted(self.statuses.items())),
            "accepted_per_s": round(accepted / self.seconds, 1) if self.seconds else 0.0,
            "latency_ms": {
                "p50": ms(percentile(lat, 0.50)),
                "p95": ms(percentile(lat, 0.95)),
                "p99": ms(percentile(lat, 0.99)),
                "max": ms(lat[-1] if lat else math.nan),
            },
            "send_lag_ms": {"p99": ms(percentile(lag, 0.99)), "max": ms(lag[-1] if lag else 0)},
            "peak_in_flight": self.peak_in_flight,
            "seconds": round(self.seconds, 2),
            "cpu_percent": self.cpu,
            **({"non_202_samples": self.samples} if self.samples else {}),
        }


def percentile(ordered: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least ``p`` of the values at or below."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def signatures(seed: int, count: int) -> list[tuple[bytes, str]]:
    """``count`` (JSON body, client IP) of the seed campaign's signatures; past its
    165,953 signers, the campaigns of the next seeds (new signature_ids all the same)."""
    bodies: list[tuple[bytes, str]] = []
    while True:
        for submission in SeedCampaign(seed):
            if submission.intent == "signature":
                bodies.append((json.dumps(submission.fields).encode(), submission.client_ip))
                if len(bodies) == count:
                    return bodies
        seed += 1


def broker_pid() -> int | None:
    """The local Kafka broker's process, if it runs on this machine (first found)."""
    for cmdline in sorted(Path("/proc").glob("[0-9]*/cmdline")):
        try:
            if b"kafka.Kafka" in cmdline.read_bytes():
                return int(cmdline.parent.name)
        except OSError:
            continue
    return None


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU of a process, all its threads; NaN when it is not readable."""
    if pid is None:
        return math.nan
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class CpuMeter:
    """CPU use between two readings, in % of one core: the intake (all its threads),
    this process (the load client) and the local Kafka broker."""

    def __init__(self, intake_pids: list[int]) -> None:
        self.intake_pids = intake_pids
        self.pids = {"intake": intake_pids[0], "load_client": os.getpid(), "broker": broker_pid()}
        self.marks = self.read()

    def read(self) -> dict[str, float]:
        """CPU seconds so far: the intake's summed over its processes."""
        seconds = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        seconds["intake"] = sum(cpu_seconds(pid) for pid in self.intake_pids)
        return {"wall": time.monotonic()} | seconds

    def lap(self) -> dict[str, float | None]:
        now = self.read()
        wall = now["wall"] - self.marks["wall"]
        used = {name: now[name] - self.marks[name] for name in self.pids}
        self.marks = now
        return {
            name: None if math.isnan(seconds) else round(100 * seconds / wall)
            for name, seconds in used.items()
        }


async def run_step(
    session: aiohttp.ClientSession,
    url: str,
    bodies: list[tuple[bytes, str]],
    rate: float,
    cap: int,
) -> Step:
    """Offer ``len(bodies)`` requests at ``rate`` per second, open loop."""
    loop = asyncio.get_running_loop()
    step = Step(rate=rate, scheduled=len(bodies))
    open_requests: set[asyncio.Task[None]] = set()
    last_answer = 0.0

    async def send(body: bytes, client_ip: str, scheduled: float) -> None:
        nonlocal last_answer
        lag = loop.time() - scheduled
        step.send_lags.append(lag)
        if lag > LATE_SECONDS:
            step.late += 1
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Forwarded-For": client_ip,
        }
        answer = b""
        try:
            async with session.post(url, data=body, headers=headers) as response:
                answer = await response.read()
                status = str(response.status)
        except TimeoutError:
            status = "timeout"
        except aiohttp.ClientError as exc:
            status = type(exc).__name__
            answer = str(exc).encode()
        done = loop.time()
        last_answer = max(last_answer, done)
        step.statuses[status] += 1
        if status == "202":
            step.latencies.append(done - scheduled)
            step.accepted_scheduled.append(scheduled)
        elif status not in step.samples:
            step.samples[status] = answer[:300].decode(errors="replace")

    start = loop.time() + 0.05
    sent = 0
    while sent < len(bodies):
        due = min(len(bodies), math.floor((loop.time() - start) * rate) + 1)
        while sent < due:
            scheduled = start + sent / rate
            if len(open_requests) >= cap:
                step.dropped += 1
            else:
                task = asyncio.create_task(send(*bodies[sent], scheduled))
                open_requests.add(task)
                task.add_done_callback(open_requests.discard)
                step.peak_in_flight = max(step.peak_in_flight, len(open_requests))
            sent += 1
        if sent < len(bodies):
            await asyncio.sleep(max(0.0, start + sent / rate - loop.time()))
    if open_requests:
        await asyncio.wait(open_requests)
    step.seconds = max(last_answer, start + (len(bodies) - 1) / rate) - start
    return step


async def offer(
    url: str,
    *,
    plan: list[tuple[float, list[tuple[bytes, str]]]],
    warmup: list[tuple[bytes, str]],
    cap: int,
    pause: float,
    cpu: CpuMeter,
) -> tuple[Step | None, list[Step]]:
    """The warm-up step (if any) and one step per rate."""
    connector = aiohttp.TCPConnector(limit=cap, limit_per_host=cap)
    timeout = aiohttp.ClientTimeout(total=60)
    steps: list[Step] = []
    warm = None
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if warmup:
            warm = await run_step(session, url, warmup, 100, cap)
        for rate, bodies in plan:
            await asyncio.sleep(pause)
            cpu.lap()
            step = await run_step(session, url, bodies, rate, cap)
            step.cpu = cpu.lap()
            steps.append(step)
            row = step.report()
            print(
                f"  {rate:>7,.0f}/s offered: {row['accepted_per_s']:>8,.1f} 202/s, "
                f"p50 {row['latency_ms']['p50']} ms, p99 {row['latency_ms']['p99']} ms, "
                f"dropped {step.dropped}, statuses {dict(step.statuses)}",
                flush=True,
            )
    return warm, steps


def submissions_on_submitted(settings: Settings) -> int:
    """Submissions on signatures.submitted: a record the intake coalesced at a surge
    (a SignatureBatch) carries several, each answered with its own 202."""
    return sum(
        len(items_of(record.key, record.value))
        for record in scan(settings, whole_log(settings, SUBMITTED.name))
    )


def print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        "offered/s",
        "202/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "non-202",
        "dropped",
        "late",
        "intake CPU",
        "client CPU",
        "broker CPU",
    )
    lines = [header]
    for row in rows:
        lat = row["latency_ms"]
        lines.append(
            (
                f"{row['offered_per_s']:,.0f}",
                f"{row['accepted_per_s']:,.0f}",
                f"{lat['p50']:,.1f}",
                f"{lat['p95']:,.1f}",
                f"{lat['p99']:,.1f}",
                f"{lat['max']:,.1f}",
                str(row["sent"] - row["statuses"].get("202", 0)),
                str(row["dropped_at_cap"]),
                str(row["late_over_10ms"]),
                *(f"{row['cpu_percent'][name]} %" for name in ("intake", "load_client", "broker")),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        print("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--rates",
        type=float,
        nargs="+",
        default=list(RATES),
        help=f"offered rates in requests/s, one step each (default {' '.join(map(str, RATES))})",
    )
    parser.add_argument(
        "--duration", type=float, default=15.0, help="seconds per step (default 15)"
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=1000,
        help="open requests at most; a request due past the cap is dropped (default 1000)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=3.0,
        help="seconds at 100 requests/s before the first step, not reported (default 3)",
    )
    parser.add_argument(
        "--pause", type=float, default=2.0, help="seconds of quiet between steps (default 2)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="where the JSON goes (default bench/results/intake_latency.json; "
        "--quick: the run's directory under .data/bench/)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed campaign seed (default 1)")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="intake processes sharing the port (SO_REUSEPORT; default 1)",
    )
    parser.add_argument(
        "--keep-topics", action="store_true", help="leave the run's topics on the broker"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {' and '.join(map(str, QUICK_RATES))} requests/s for 3 s each, "
        "1 s warm-up; does not overwrite bench/results/",
    )
    args = parser.parse_args()
    if args.quick:
        args.rates, args.duration, args.warmup, args.pause = list(QUICK_RATES), 3.0, 1.0, 1.0
    return args


def intake_processes(settings: Settings, workdir: Path, processes: int) -> list[IntakeProcess]:
    """``processes`` intakes on one port (SO_REUSEPORT when more than one), with rate
    limits high enough that the limiter's 429s are not what is measured."""
    port = free_port()
    intakes = [IntakeProcess(settings, workdir / f"intake{i}.log", port) for i in range(processes)]
    for intake in intakes:
        intake.extra_env["COUNTERSIGN_INTAKE_RATE_LIMITS"] = "1000000/60"
        intake.extra_env["COUNTERSIGN_INTAKE_REUSE_PORT"] = str(processes > 1).lower()
    return intakes


def main() -> None:
    args = parse_args()

    run = uuid.uuid4().hex[:8]
    workdir = Path(f".data/bench/intake-{run}")
    workdir.mkdir(parents=True)
    settings = Settings(topic_prefix=f"bench-intake-{run}.", data_dir=workdir / "data")
    counts = [round(rate * args.duration) for rate in args.rates]
    warmup_count = round(100 * args.warmup)
    print(f"generating {sum(counts) + warmup_count:,} signatures (seed {args.seed})", flush=True)
    pool = signatures(args.seed, sum(counts) + warmup_count)
    warmup, pool = pool[:warmup_count], pool[warmup_count:]
    plan = []
    for rate, count in zip(args.rates, counts, strict=True):
        plan.append((rate, pool[:count]))
        pool = pool[count:]

    create_topics(settings)
    publish_petition(settings, seed_petition(datetime.now(UTC), confirmation="none"))
    intakes = intake_processes(settings, workdir, args.processes)
    intake = intakes[0]
    steps: list[Step] = []
    warm: Step | None = None
    load_average = os.getloadavg()
    try:
        pids = []
        for each in intakes:
            each.start(wait_for_petition=SEED_PETITION)
            assert each.process is not None
            pids.append(each.process.pid)
        print(f"intake pids {pids} on {intake.url} (logs in {workdir})", flush=True)
        url = f"{intake.url}/petitions/{SEED_PETITION}/signatures"
        warm, steps = asyncio.run(
            offer(
                url,
                plan=plan,
                warmup=warmup,
                cap=args.max_in_flight,
                pause=args.pause,
                cpu=CpuMeter(pids),
            )
        )
        peak_rss = max(peak_rss_mib(p) for p in pids)
    finally:
        exit_code = max((each.stop() or 0) for each in intakes)
    accepted = sum(s.statuses.get("202", 0) for s in [*steps, *([warm] if warm else [])])
    on_kafka = submissions_on_submitted(settings)
    if not args.keep_topics:
        delete_run_topics(settings)

    rows = [step.report() for step in steps]
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "load_average_at_start": [round(v, 2) for v in load_average],
        "method": (
            "open loop: request i at start + i/rate, latency from that time; "
            f"{args.duration:g} s per step; at most {args.max_in_flight} in flight "
            f"(more are dropped); {args.warmup:g} s warm-up at 100/s not reported; "
            "latency percentiles of the 202s only; load client on the same machine "
            "(aiohttp, loopback)"
        ),
        "intake": {
            "processes": args.processes,
            "rate_limits": "1000000/60",
            "peak_rss_mib": round(peak_rss),
            "exit_code": exit_code,
        },
        "warmup_statuses": dict(warm.statuses) if warm else {},
        "steps": rows,
        "accepted_total_including_warmup": accepted,
        "submissions_on_signatures_submitted": on_kafka,
    }
    target = args.output or (workdir / "intake_latency.json" if args.quick else RESULTS)
    save_report(report, target, echo=False)
    print()
    print_table(rows)
    print()
    print(f"submissions on signatures.submitted: {on_kafka:,} (202s incl. warm-up: {accepted:,})")
    if on_kafka != accepted:
        print("MISMATCH: every 202 should be exactly one submission on signatures.submitted")
    print(f"written to {target}")


if __name__ == "__main__":
    main()
