"""Chaos on the 3-node cluster: 3 workers, 2 intakes and the sink (``serve``) under a
steady stream of signers, while workers are killed (SIGKILL) and frozen
(SIGSTOP/SIGCONT past their session timeout), a broker is killed and started again,
and the sink is restarted. At the end every count equals the truth computed from the
intakes' own acknowledgements (a 202 is a promise), and ``reconcile`` exits 0.

Each fault is printed with the time the pipeline took to recover from it: from the
repair until the counts cover every signature acknowledged until the repair (those
that waited on the fault's partitions included).
Bounded (about two minutes of traffic) and on loopback only.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition

from streams.core import kafka
from streams.core.children import free_port
from streams.core.settings import Settings
from streams.demo.simulator import default_petitions
from streams.testing.processes import (
    IntakeProcess,
    Results,
    ServeProcess,
    WorkerProcess,
    prepare,
    run_command,
    workers_of_one_pipeline,
)
from tests.conftest import kafka_sh
from tests.intake_client import Answer, post_json

#: ``soak``: run by ``make soak``, not ``make test`` (two minutes, and the suite must
#: stay under 25 on 2 cores). It failed in 2 of about 14 runs, counts short for good;
#: the cause (a frozen worker's late changelog record) is fixed and reproduced every
#: time by ``test_frozen_worker.py``, which runs in ``make test`` (docs/scaling.md).
pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.kills, pytest.mark.soak]

#: The truth's own map of the countries the signers come from (docs/regions: the
#: five regions), kept apart from the pipeline's table on purpose.
REGION_OF = {
    "FR": "Europe and Central Asia",
    "BR": "Americas",
    "JP": "Asia and the Pacific",
    "NG": "Africa",
    "EG": "Middle East and North Africa",
}
PETITIONS = ("syria-icc", "free-press")
RATE = 25  # signatures per second, over both intakes
#: One signer in this many signs again (the same email and country): a duplicate.
DUPLICATE_EVERY = 7


@dataclass
class Signed:
    at: float
    petition: str
    email: str
    country: str
    answer: Answer


class Signers(threading.Thread):
    """Signers arriving at ``RATE`` per second, spread over the intakes, each from an
    address of its own (the rate limit is per client)."""

    def __init__(self, intakes: list[str], rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.intakes = intakes
        self.rng = rng
        self.answers: list[Signed] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        with ThreadPoolExecutor(128) as pool:
            started, n = time.monotonic(), 0
            while not self.stop.is_set():
                n += 1
                if n % DUPLICATE_EVERY == 0:  # someone who signed before signs again
                    email, petition, country = self.signer(self.rng.randrange(1, n))
                else:
                    email, petition, country = self.signer(n)
                pool.submit(self.sign, n, petition, email, country)
                time.sleep(max(0.0, started + n / RATE - time.monotonic()))

    def signer(self, n: int) -> tuple[str, str, str]:
        """The n-th signer: always the same petition and country for one email."""
        countries = sorted(REGION_OF)
        return f"chaos{n}@example.org", PETITIONS[n % 2], countries[n * 7 % len(countries)]

    def sign(self, n: int, petition: str, email: str, country: str) -> None:
        fields = {
            "signature_id": f"chaos-{n:06d}",
            "full_name": f"Signer {n}",
            "email": email,
            "country": country,
        }
        ip = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        answer = post_json(
            self.intakes[n % len(self.intakes)], petition, fields, ip=ip, timeout=120
        )
        with self.lock:
            self.answers.append(Signed(time.monotonic(), petition, email, country, answer))

    def truth(self, before: float = float("inf")) -> Counter[tuple[str, str, str]]:
        """The counts the acknowledged (202) signatures make: one per signer and petition."""
        with self.lock:
            signers = {
                (s.petition, s.email): s.country
                for s in self.answers
                if s.answer.status == 202 and s.at <= before
            }
        return Counter((p, REGION_OF[c], c) for (p, _), c in signers.items())


@dataclass
class Fault:
    name: str
    started: float
    acknowledged: int  # the signers acknowledged when it was repaired
    repaired: float
    recovered: float | None = None


@pytest.fixture
def chaos_settings(cluster: dict[str, str], test_id: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        kafka_bootstrap_servers=cluster["bootstrap"],
        topic_prefix=f"t{test_id}.",
        topic_replication_factor=3,
        data_dir=tmp_path / "data",
        consumer_session_timeout_seconds=10,
    )


@pytest.fixture
def workers(chaos_settings: Settings, tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    """Three workers of one pipeline, each with a state directory of its own."""
    with workers_of_one_pipeline(chaos_settings, tmp_path, 3) as processes:
        yield processes


class Chaos:
    """One run: the processes, the signers, the counts read so far, and the faults
    injected with when each was repaired and when the counts caught up."""

    def __init__(
        self,
        settings: Settings,
        cluster: dict[str, str],
        workers: list[WorkerProcess],
        tmp_path: Path,
    ) -> None:
        self.settings, self.cluster, self.workers, self.tmp_path = (
            settings,
            cluster,
            workers,
            tmp_path,
        )
        self.rng = random.Random(20261206)
        self.serve = ServeProcess(settings, tmp_path / "serve.log", free_port())
        self.intakes = [
            IntakeProcess(settings, tmp_path / f"intake{i}.log", free_port()) for i in range(2)
        ]
        self.results = Results(settings)
        self.signers = Signers([i.url for i in self.intakes], self.rng)
        self.faults: list[Fault] = []

    def fault(
        self, name: str, act: Callable[[], object], repair: Callable[[], object], hold: float
    ) -> None:
        started = time.monotonic()
        act()
        self.watch(hold)
        repair()
        # Recovered once every signature acknowledged until now is counted: those
        # that waited on the fault's partitions included.
        acknowledged = sum(self.signers.truth().values())
        self.faults.append(Fault(name, started, acknowledged, time.monotonic()))

    def watch(self, seconds: float) -> None:
        """Read the counts for ``seconds``, noting each fault's recovery as it comes."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.results.poll(0.5)
            counted = sum(self.results.counts().values())
            for record in self.faults:
                if record.recovered is None and counted >= record.acknowledged:
                    record.recovered = time.monotonic()

    @staticmethod
    def freeze(worker: WorkerProcess, on: bool) -> None:
        assert worker.process is not None
        os.kill(worker.process.pid, signal.SIGSTOP if on else signal.SIGCONT)

    def run_faults(self) -> None:
        """Six faults, each followed by 8 s of watching, in a seeded order of victims."""
        self.watch(10)
        victims = self.rng.sample(self.workers, 3)
        self.fault("SIGKILL a worker", victims[0].kill, victims[0].start, 3)
        self.watch(8)
        # Frozen past its session timeout (10 s): the group moves its partitions away,
        # and when it thaws it must find it lost them and commit nothing stale.
        self.fault(
            "SIGSTOP a worker for 15 s",
            lambda: self.freeze(victims[1], True),
            lambda: self.freeze(victims[1], False),
            15,
        )
        self.watch(8)
        self.fault(
            "SIGKILL broker 2",
            lambda: kafka_sh("kill", "2", "--cluster", env=self.cluster),
            lambda: kafka_sh("start", "2", "--cluster", env=self.cluster),
            10,
        )
        self.watch(8)
        self.fault(
            "restart the sink (serve)", self.serve.stop, lambda: self.serve.start_serving({}), 0
        )
        self.watch(8)
        self.fault("SIGKILL a worker", victims[2].kill, victims[2].start, 1)
        self.watch(8)
        self.fault(
            "SIGSTOP a worker for 4 s",
            lambda: self.freeze(victims[0], True),
            lambda: self.freeze(victims[0], False),
            4,
        )
        self.watch(8)

    def fresh_counts(self) -> Results:
        """The counts as a reader that starts now sees them (closed by the caller)."""
        fresh = Results(self.settings)
        fresh.poll(15)
        return fresh

    def explain_shortfall(self, fresh: Results) -> str:
        """What a failed run needs to be understood: whether every event left validate
        (or some were never handled), what a fresh reader sees, where the workers'
        group stands on each partition it reads, and what the workers logged above
        INFO. CI keeps none of the logs."""
        lines = [
            f"truth {sum(self.signers.truth().values())}; counted: "
            f"{sum(self.results.counts().values())} (this run's reader), "
            f"{sum(fresh.counts().values())} (a fresh one); events out of validate: "
            f"{fresh.handled_events()} of {len(self.signers.answers)} answered; count "
            f"records older than one before them: {fresh.older_versions_after_newer}"
        ]
        reader = kafka.consumer(self.settings, group_id=self.settings.group_id())
        topics = [self.settings.topic(n) for n in ("signatures.submitted", "signatures.valid")]
        topics.append(f"{self.settings.group_id()}-partial-counts")
        try:
            for topic in topics:
                metadata = reader.list_topics(topic, timeout=10).topics[topic]
                committed = reader.committed(
                    [TopicPartition(topic, p) for p in metadata.partitions], timeout=10
                )
                for tp in committed:
                    high = kafka.watermarks(reader, tp, 10)[1]
                    lines.append(f"{topic}[{tp.partition}]: committed {tp.offset}, end {high}")
        finally:
            reader.close()
        for i, worker in enumerate(self.workers):
            lines += [f"--- worker {i}'s warnings:", worker.warnings()]
        return "\n".join(lines)

    def check_the_end(self) -> None:
        statuses = Counter(s.answer.status for s in self.signers.answers)
        truth = self.signers.truth()
        # Every answer is a 202 or a duplicate's 202: nothing was left in doubt (a 504)
        # or refused (a 503) while two brokers of three stayed up.
        assert set(statuses) == {202}, statuses
        deadline = time.monotonic() + 300
        while self.results.counts() != truth and time.monotonic() < deadline:
            self.watch(2)
        for i, worker in enumerate(self.workers):
            assert worker.alive(), f"worker {i} died:\n{worker.log_tail()}"
        if self.results.counts() != truth:
            fresh = self.fresh_counts()
            try:
                # A second opinion: this run's reader went through the broker's kill
                # too, and a client can stay stale after one (docs/exactly-once.md).
                assert fresh.counts() == truth, self.explain_shortfall(fresh)
                print("\nthis run's reader was stale; a fresh reader sees the truth")
            finally:
                fresh.close()

        report = run_command(
            self.settings,
            ["reconcile", "--settle", "5", "--format", "json"],
            self.tmp_path / "reconcile.log",
            env={"COUNTERSIGN_API_PORT": str(self.serve.port)},
        )
        recount = {
            (r["petition"], r["region"], r["country"]): r["expected"]
            for r in json.loads(report.stdout)["rows"]
            if not r["region"].startswith("(") and r["expected"]
        }
        assert recount == dict(truth)

        print(
            f"\n{len(self.signers.answers)} answers ({dict(statuses)}), "
            f"{sum(truth.values())} signers counted, exact in Kafka and ClickHouse; "
            f"{self.results.older_versions_after_newer} count records came after a newer one"
        )
        for record in self.faults:
            took = (
                "never"
                if record.recovered is None
                else f"{max(0.0, record.recovered - record.repaired):5.1f} s"
            )
            print(
                f"  +{record.started - self.faults[0].started:5.1f} s  {record.name:<28} "
                f"held {record.repaired - record.started:4.1f} s, recovered {took} after repair"
            )
        assert all(record.recovered is not None for record in self.faults)


@pytest.mark.timeout(900)
def test_counts_are_exact_through_worker_broker_and_sink_faults(
    chaos_settings: Settings,
    cluster: dict[str, str],
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    prepare(chaos_settings, default_petitions(datetime.now(UTC)))
    chaos = Chaos(chaos_settings, cluster, workers, tmp_path)
    with ExitStack() as stack:
        for process in (chaos.serve, *chaos.intakes):
            stack.enter_context(process)
        stack.callback(chaos.results.close)
        chaos.serve.start_serving({})
        for worker in workers:
            worker.start()
        for intake in chaos.intakes:
            intake.extra_env["COUNTERSIGN_INTAKE_DELIVERY_TIMEOUT_SECONDS"] = "60"
            intake.start(wait_for_petition=PETITIONS[0])
        chaos.signers.start()
        try:
            chaos.run_faults()
        finally:
            chaos.signers.stop.set()
            chaos.signers.join(180)
        chaos.check_the_end()
