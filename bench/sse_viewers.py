"""1,000 viewers of the live dashboard while the pipeline counts the seed campaign.

Measured in one run, on one broker, one worker and one ``countersign serve``:

1. phase "no viewers": ``countersign simulate --profile seed-campaign`` puts N people's
   traffic into Kafka with the worker stopped, then the worker is started and drains it
   (so the worker sets the pace, not the simulator);
2. phase "viewers": 1,000 server-sent-event streams of syria-icc are opened (aiohttp,
   this process), another N people (another seed) are put into Kafka, and the worker
   drains them while every viewer watches.

For each phase: the worker's throughput (validated events per second, from its own
``/metrics``) and the end-to-end drain rate (until the API's total is the simulator's
truth), and ``serve``'s resident memory. For the viewers: a prober reads ``/counts``
every 0.1 s and notes when each total first shows; a viewer sees that change when it
receives a total at least as large, and the delay between the two is the latency
(p50/p99/max over every viewer and change).

    python -m bench.sse_viewers
    python -m bench.sse_viewers --signatures 30000 --viewers 1000
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import os
import re
import resource
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.machine import RESULTS_DIR, describe, save_report
from bench.pipeline import fresh_settings
from streams.core.children import free_port
from streams.core.settings import Settings
from streams.demo.campaign import SEED_PETITION
from streams.testing.cleanup import delete_run_topics
from streams.testing.processes import ServeProcess, WorkerProcess, ops_headers, run_command
from streams.testing.sse import events_url, read_events

PROBE_SECONDS = 0.1
#: Every viewer should see every change within this long (issue 14).
GOAL_SECONDS = 2.0
VALIDATED = re.compile(r'^countersign_agent_events_in_total\{agent="validate"\} (\S+)$', re.M)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time every process of the machine has used (all cores, not idle or iowait)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Viewer:
    #: (when, total) of every counts event, in order of arrival.
    seen: list[tuple[float, int]] = field(default_factory=list)
    refused: int | None = None

    def first_at_least(self, total: int, highest: list[int] | None = None) -> float | None:
        """When this viewer first had a total of at least ``total``. ``highest`` is
        ``self.highest()``, given when asking many times."""
        highest = self.highest() if highest is None else highest
        i = bisect.bisect_left(highest, total)
        return self.seen[i][0] if i < len(self.seen) else None

    def highest(self) -> list[int]:
        """The highest total seen so far, after each event (sorted, for bisect)."""
        highest, running = [], 0
        for _, total in self.seen:
            running = max(running, total)
            highest.append(running)
        return highest


@dataclass
class Phase:
    name: str
    events: int = 0
    expected_total: int = 0
    validated_per_s: float = 0.0
    end_to_end_per_s: float = 0.0
    drain_seconds: float = 0.0
    serve_rss_mib: float = 0.0
    goal_reached: bool = False
    final_total: int = 0
    #: CPU seconds during the drain: the worker, serve, this process (the viewers'
    #: client and the prober), and every other process of the machine.
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    #: first time (monotonic) the prober saw each total during the phase.
    totals: dict[int, float] = field(default_factory=dict)


class Pipeline:
    """The processes and the bench's view of them."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.settings = settings
        self.workdir = workdir
        self.serve = ServeProcess(settings, workdir / "serve.log", free_port())
        self.worker = WorkerProcess(settings, workdir / "worker.log", free_port(), with_api=False)
        self.base = f"http://127.0.0.1:{self.serve.port}"

    def simulate(self, signatures: int, seed: int) -> tuple[int, set[str]]:
        """(events sent, the signers they count): the campaign's traffic into Kafka."""
        truth_file = self.workdir / f"truth-{seed}.json"
        done = run_command(
            self.settings,
            ["simulate", "--profile", "seed-campaign", "--signatures", str(signatures),
             "--seed", str(seed), "--truth", str(truth_file)],
            self.workdir / "simulate.log",
            env={"COUNTERSIGN_API_PORT": str(self.serve.port)},
        )  # fmt: skip
        sent = re.search(r"sent ([\d,]+) events", done.stdout)
        assert sent, done.stdout[-2000:]
        truth = json.loads(truth_file.read_text())["petitions"][SEED_PETITION]
        assert len(truth["signers"]) == truth["total"], "one signer, one count"
        return int(sent.group(1).replace(",", "")), set(truth["signers"])


async def validated(session: aiohttp.ClientSession, pipeline: Pipeline) -> float:
    url = f"http://127.0.0.1:{pipeline.worker.metrics_port}/metrics"
    try:
        async with session.get(url, headers=ops_headers(pipeline.settings)) as answer:
            found = VALIDATED.search(await answer.text())
    except aiohttp.ClientError:
        return 0.0
    return float(found.group(1)) if found else 0.0


async def probe(session: aiohttp.ClientSession, base: str, phase: list[Phase]) -> None:
    """Note when each total first shows on /counts (into the current phase)."""
    url = f"{base}/api/petitions/{SEED_PETITION}/counts"
    while True:
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(url) as answer:
                if answer.status == 200:
                    total = int((await answer.json())["total"])
                    phase[-1].totals.setdefault(total, time.monotonic())
        await asyncio.sleep(PROBE_SECONDS)


async def view(session: aiohttp.ClientSession, base: str, viewer: Viewer) -> None:
    async with session.get(events_url(base, SEED_PETITION)) as response:
        if response.status != 200:
            viewer.refused = response.status
            return
        async for name, data in read_events(response):
            if name == "counts":
                viewer.seen.append((time.monotonic(), int(data["total"])))


async def drain(
    session: aiohttp.ClientSession, pipeline: Pipeline, phase: Phase, previous_total: int
) -> None:
    """Start the worker on the backlog and time it until the API shows the truth."""
    pipeline.worker.start()
    assert pipeline.serve.process is not None and pipeline.worker.process is not None
    serve_pid, worker_pid = pipeline.serve.process.pid, pipeline.worker.process.pid
    cpu_before = (cpu_seconds(serve_pid), own_cpu_seconds(), machine_busy_seconds())
    first: tuple[float, float] | None = None
    done_validating: float | None = None
    last_shown = [0, time.monotonic()]  # total, since when
    goal = previous_total + phase.expected_total
    deadline = time.monotonic() + 1800
    while True:
        assert time.monotonic() < deadline, pipeline.worker.log_tail()
        assert pipeline.worker.alive(), pipeline.worker.log_tail()
        now, count = time.monotonic(), await validated(session, pipeline)
        if first is None and count > 0:
            first = (now, count)
        if first is not None and done_validating is None and count >= phase.events:
            done_validating = now
            # (a backlog drained before the first reading leaves nothing to time: 0)
            phase.validated_per_s = (count - first[1]) / max(now - first[0], 1e-9)
        shown = max(phase.totals, default=0)
        if first is not None and shown != last_shown[0]:
            last_shown[:] = [shown, now]
        # The goal, or (so that a miss is reported, not waited on forever) a total that
        # stayed put for 30 s after validation.
        stuck = (
            done_validating is not None
            and shown > previous_total
            and now - max(last_shown[1], done_validating) > 30
        )
        if first is not None and (shown >= goal or stuck):
            phase.drain_seconds = max((now if shown >= goal else last_shown[1]) - first[0], 0.25)
            phase.end_to_end_per_s = phase.events / phase.drain_seconds
            phase.goal_reached = shown >= goal
            phase.final_total = shown
            worker = cpu_seconds(worker_pid)
            serve = cpu_seconds(serve_pid) - cpu_before[0]
            bench = own_cpu_seconds() - cpu_before[1]
            machine = machine_busy_seconds() - cpu_before[2]
            phase.cpu_seconds = {
                "worker": round(worker, 1),
                "serve": round(serve, 1),
                "bench_viewers_and_prober": round(bench, 1),
                "everything_else": round(machine - worker - serve - bench, 1),
            }
            print(f"  drained: {phase.events:,} events, total {shown:,} (truths: {goal:,}), "
                  f"{phase.validated_per_s:,.0f} validated/s, "
                  f"{phase.end_to_end_per_s:,.0f} events/s to the API", flush=True)  # fmt: skip
            return
        phase.serve_rss_mib = max(phase.serve_rss_mib, serve_rss(pipeline))
        await asyncio.sleep(0.25)


def serve_rss(pipeline: Pipeline) -> float:
    assert pipeline.serve.process is not None
    return rss_mib(pipeline.serve.process.pid)


def latencies(viewer: Viewer, totals: dict[int, float]) -> tuple[list[float], int]:
    """The delay of each change for one viewer (0 when the viewer had it before the
    prober), and how many changes it never saw."""
    delays: list[float] = []
    missed = 0
    highest = viewer.highest()
    for total, shown_at in totals.items():
        seen_at = viewer.first_at_least(total, highest)
        if seen_at is None:
            missed += 1
        else:
            delays.append(max(0.0, seen_at - shown_at))
    return delays, missed


def ratio(after: float, before: float) -> float | None:
    return round(after / before, 3) if before else None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


async def run(pipeline: Pipeline, signatures: int, n_viewers: int) -> dict[str, Any]:
    phases = [Phase("no viewers")]
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        prober = asyncio.create_task(probe(session, pipeline.base, phases))

        print(f"phase 1: {signatures:,} people into Kafka, no viewers", flush=True)
        phases[0].events, first_signers = await asyncio.to_thread(pipeline.simulate, signatures, 1)
        phases[0].expected_total = len(first_signers)
        await drain(session, pipeline, phases[0], 0)
        await asyncio.to_thread(pipeline.worker.stop)
        idle_rss = serve_rss(pipeline)

        print(f"phase 2: {n_viewers:,} viewers connect", flush=True)
        viewers = [Viewer() for _ in range(n_viewers)]
        tasks = [asyncio.create_task(view(session, pipeline.base, v)) for v in viewers]
        deadline = time.monotonic() + 120
        while not all(v.seen or v.refused for v in viewers):
            assert time.monotonic() < deadline, "viewers never got their first counts"
            await asyncio.sleep(0.5)
        refused = sum(1 for v in viewers if v.refused)
        phases.append(Phase(f"{n_viewers} viewers"))
        watching_rss = serve_rss(pipeline)
        print(f"  {n_viewers - refused:,} watching, {refused} refused; another "
              f"{signatures:,} people", flush=True)  # fmt: skip
        phases[1].events, second_signers = await asyncio.to_thread(pipeline.simulate, signatures, 2)
        # A phase-2 signer who signed in phase 1 already (by chance) is counted once.
        phases[1].expected_total = len(second_signers - first_signers)
        await drain(session, pipeline, phases[1], phases[0].expected_total)
        final = max(phases[1].totals)
        deadline = time.monotonic() + 30
        while any(v.first_at_least(final) is None for v in viewers if not v.refused):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        async with session.get(
            f"{pipeline.base}/metrics", headers=ops_headers(pipeline.settings)
        ) as answer:
            metrics_text = await answer.text()
        prober.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(prober, *tasks, return_exceptions=True)

    watching = [v for v in viewers if not v.refused]
    # The changes of phase 2: totals beyond what phase 1 left (which viewers had at once).
    changes = {t: at for t, at in phases[1].totals.items() if t > phases[0].expected_total}
    delays: list[float] = []
    missed = 0
    per_viewer_max = []
    for viewer in watching:
        own, never = latencies(viewer, changes)
        delays += own
        missed += never
        per_viewer_max.append(max(own, default=0.0))
    polls = re.search(r"^countersign_sse_count_polls_total (\S+)$", metrics_text, re.M)
    return {
        "phases": [phase.__dict__ | {"totals": len(phase.totals)} for phase in phases],
        "throughput_ratio_validated": ratio(phases[1].validated_per_s, phases[0].validated_per_s),
        "throughput_ratio_end_to_end": ratio(
            phases[1].end_to_end_per_s, phases[0].end_to_end_per_s
        ),
        "viewers": len(watching),
        "viewers_refused": refused,
        "changes_seen_by_prober": len(changes),
        "latency_seconds": {
            "p50": round(percentile(delays, 0.5), 3),
            "p99": round(percentile(delays, 0.99), 3),
            "max": round(max(delays, default=0.0), 3),
            "mean": round(statistics.fmean(delays), 3) if delays else 0.0,
        },
        "changes_never_seen": missed,
        "viewers_seeing_every_change_within_2s": sum(
            1 for worst in per_viewer_max if worst <= GOAL_SECONDS
        ),
        "serve_rss_mib": {
            "after_phase_1_no_viewers": round(idle_rss, 1),
            "viewers_connected_before_phase_2": round(watching_rss, 1),
            "peak_during_phase_2": round(phases[1].serve_rss_mib, 1),
        },
        "serve_count_polls_total": float(polls.group(1)) if polls else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=30_000, help="people per phase")
    parser.add_argument("--viewers", type=int, default=1_000)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.viewers + 1024
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))  # viewers' sockets
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-sse-") as tmp:
        workdir = Path(tmp)
        settings = fresh_settings(workdir, "sse")
        pipeline = Pipeline(settings, workdir)
        with pipeline.serve, pipeline.worker:
            # Every viewer is this machine: one client, past sse_max_per_client's default.
            pipeline.serve.start({"COUNTERSIGN_SSE_MAX_PER_CLIENT": str(max(args.viewers, 1))})
            pipeline.serve.wait_for_health("serve", pipeline.serve.port, time.monotonic() + 120)
            measured = asyncio.run(run(pipeline, args.signatures, args.viewers))
        delete_run_topics(settings)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        # Above ~0.5 before the start: something else (another engineer's tests) ran too.
        "load_average_1m_before_and_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "signatures_per_phase": args.signatures,
        "goal": "throughput with viewers >= 0.9 of without; every viewer sees every "
        f"change within {GOAL_SECONDS} s",
        **measured,
        "bench_process_max_rss_mib": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        ),
    }
    save_report(report, RESULTS_DIR / "sse_viewers.json")


if __name__ == "__main__":
    main()
