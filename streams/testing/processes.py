"""Drive a real worker process and read what it wrote, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from schemas.batch import encode_batch
from schemas.codec import codec
from streams.catalogue.store import new_petition, publish_petition
from streams.core import kafka
from streams.core.children import ChildProcess, environment, free_port
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.core.topicspecs import ACCEPTED, COUNTS, DUPLICATES, REJECTED, SUBMITTED, VALID
from streams.rules.placement import home_partition
from streams.testing.dataset import DemoPetition, Event
from streams.testing.reference import Truth

REPO = Path(__file__).resolve().parents[2]


def ops_headers(settings: Settings) -> dict[str, str]:
    """What a scraper of /metrics or a caller of /ops sends (the ops token)."""
    return {"Authorization": f"Bearer {settings.ops_token.get_secret_value()}"}


def _environment(settings: Settings, extra: dict[str, str]) -> dict[str, str]:
    return environment(settings, {"COUNTERSIGN_ENV": "test", **extra})


def run_command(
    settings: Settings,
    args: list[str],
    log_path: Path,
    *,
    expect: int | None = 0,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``countersign <args>`` to the end with the test's settings; its stderr is
    appended to ``log_path``. Raise with both if the exit code is not ``expect``
    (None: any)."""
    done = subprocess.run(
        [sys.executable, "-m", "streams", *args],
        env=_environment(settings, env or {}),
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    with log_path.open("a") as log:
        log.write(done.stderr)
    if expect is not None and done.returncode != expect:
        raise AssertionError(
            f"countersign {' '.join(args)} exited {done.returncode}, not {expect}:\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


class ServeProcess(ChildProcess):
    """``countersign serve`` (the ClickHouse sink and the API) as a child process."""

    def __init__(self, settings: Settings, log_path: Path, port: int) -> None:
        super().__init__(settings, log_path)
        self.port = port

    def start(self, extra_env: dict[str, str]) -> None:
        env = _environment(self.settings, {"COUNTERSIGN_API_PORT": str(self.port), **extra_env})
        self.spawn(["serve"], env)

    def start_serving(self, extra_env: dict[str, str], timeout: float = 120) -> str:
        """Start, and wait until it is healthy and lists the catalogue's petitions
        (a test's first request must not race the catalogue); its base URL."""
        self.start(extra_env)
        deadline = time.monotonic() + timeout
        self.wait_for_health("serve", self.port, deadline)
        base = f"http://127.0.0.1:{self.port}"
        while True:
            with urllib.request.urlopen(f"{base}/api/petitions", timeout=10) as answer:
                if answer.read().strip() != b"[]":
                    return base
            if time.monotonic() > deadline:
                raise TimeoutError(f"serve at {base} never listed the petitions")
            time.sleep(0.3)


class WorkerProcess(ChildProcess):
    """``countersign worker`` as a child process with the test's settings, and beside it
    (unless ``with_api=False``) one ``countersign serve`` on ``web_port``: what a user
    runs. ``kill`` hits the worker only; the API and the sink keep running, as they
    would in production."""

    def __init__(
        self, settings: Settings, log_path: Path, web_port: int, *, with_api: bool = True
    ) -> None:
        super().__init__(settings, log_path)
        self.web_port = web_port
        #: The worker's own port: /healthz and the agents' /metrics.
        self.metrics_port = free_port()
        self.api = (
            ServeProcess(settings, log_path.with_name(f"{log_path.stem}-serve.log"), web_port)
            if with_api
            else None
        )
        #: More COUNTERSIGN_* variables for the next ``start`` (of both processes).
        self.extra_env: dict[str, str] = {}

    def environment(self) -> dict[str, str]:
        return _environment(
            self.settings, {"COUNTERSIGN_WORKER_PORT": str(self.metrics_port), **self.extra_env}
        )

    def start(self) -> None:
        """Start the worker, and the API process unless it is running already."""
        self.spawn(["worker", "--loglevel", "info"], self.environment())
        if self.api is not None and not self.api.alive():
            self.api.start(self.extra_env)

    def stop(self) -> int | None:
        code = super().stop()
        if self.api is not None:
            self.api.stop()
        return code

    def run(
        self, args: list[str], log_path: Path, *, expect: int | None = 0
    ) -> subprocess.CompletedProcess[str]:
        """``countersign <args>`` pointed at this worker's serve process (the audit
        tools' API), as ``run_command`` runs it."""
        return run_command(
            self.settings,
            args,
            log_path,
            expect=expect,
            env={"COUNTERSIGN_API_PORT": str(self.web_port), **self.extra_env},
        )

    def wait_until_serving(self, timeout: float = 120) -> None:
        """Until the worker and the API answer /healthz with 200 (topics created,
        ClickHouse migrated): a fresh broker can take several seconds."""
        self._wait_for("/healthz", timeout)

    def wait_until_ready(self, timeout: float = 120) -> None:
        """Until the worker answers /readyz with 200 (its partitions assigned, its tables
        restored) and the API /healthz: a record produced now is handled now."""
        self._wait_for("/readyz", timeout)

    def _wait_for(self, worker_path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self.wait_for_health("worker", self.metrics_port, deadline, worker_path)
        if self.api is not None:
            self.api.wait_for_health("API process", self.web_port, deadline)

    def warnings(self, lines: int = 40) -> str:
        """The last ``lines`` lines of its log at WARNING or above (Faust's included)."""
        marks = ("[WARNING]", "[ERROR]", "[CRITICAL]")
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(
            [line for line in text.splitlines() if any(m in line for m in marks)][-lines:]
        )

    def log_tail(self, lines: int = 60) -> str:
        tail = super().log_tail(lines)
        if self.api is not None and self.api.log_path.exists():
            tail += "\n--- countersign serve ---\n" + self.api.log_tail(lines // 2)
        return tail


@contextlib.contextmanager
def workers_of_one_pipeline(
    settings: Settings, directory: Path, count: int
) -> Iterator[list[WorkerProcess]]:
    """``count`` workers of one pipeline (started by the caller), each with a state
    directory of its own, as each would have its own disk (``countersign worker``
    refuses a shared one); stopped at the end, a frozen one (SIGSTOP) woken first
    so that it hears SIGTERM."""
    processes = [
        WorkerProcess(
            settings.model_copy(update={"data_dir": directory / f"worker{n}"}),
            directory / f"worker{n}.log",
            free_port(),
            with_api=False,
        )
        for n in range(count)
    ]
    try:
        yield processes
    finally:
        for worker in processes:
            if worker.alive() and worker.process is not None:
                os.kill(worker.process.pid, signal.SIGCONT)
            worker.stop()


class IntakeProcess(ChildProcess):
    """``countersign intake`` as a child process with the test's settings.

    ``extra_env`` (e.g. ``COUNTERSIGN_INTAKE_RATE_LIMITS``) is set before ``start``;
    127.0.0.1 is a trusted proxy so tests can speak for many client IPs.
    """

    def __init__(self, settings: Settings, log_path: Path, port: int) -> None:
        super().__init__(settings, log_path)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.extra_env: dict[str, str] = {"COUNTERSIGN_INTAKE_TRUSTED_PROXIES": "127.0.0.1"}

    def start(self, wait_for_petition: str | None = None, timeout: float = 60) -> None:
        env = _environment(
            self.settings, {"COUNTERSIGN_INTAKE_PORT": str(self.port), **self.extra_env}
        )
        self.spawn(["intake"], env)
        path = f"/petitions/{wait_for_petition}/sign" if wait_for_petition else "/healthz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"the intake exited:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise AssertionError(f"the intake did not serve {path} in {timeout} s:\n{self.log_tail()}")


def publish_open_petition(settings: Settings, petition_id: str, confirmation: str) -> None:
    """A petition that opened a day ago and stays open, titled after its id."""
    now = datetime.now(UTC)
    petition = new_petition(
        petition_id,
        f"Petition {petition_id}",
        opens_at=now - timedelta(days=1),
        confirmation=confirmation,
        now=now,
    )
    publish_petition(settings, petition)


def prepare(settings: Settings, petitions: list[DemoPetition]) -> None:
    create_topics(settings)
    for petition in petitions:
        publish_petition(settings, petition.record(now=petition.opens_at))


def produce(
    settings: Settings, events: list[Event], *, per_record: int = 1
) -> dict[tuple[int, int], int]:
    """Publish ``events`` in order, as ``as_records`` shapes them. Returns how many
    events each record (partition, offset) carries."""
    producer = kafka.producer(settings, **{"message.max.bytes": 4 * 1024 * 1024})
    failures: list[str] = []
    records: dict[tuple[int, int], int] = {}
    topic = settings.topic(SUBMITTED.name)

    def send(value: bytes, key: bytes | None, partition: int, items: int) -> None:
        def delivered(error: KafkaError | None, message: Message) -> None:
            failure = kafka.delivery_failure(error, message)
            if failure is not None:
                failures.append(failure)
            else:
                records[message.partition(), message.offset()] = items  # type: ignore[index]

        kafka.produce_waiting(
            producer,
            topic,
            value,
            key,
            partition=partition,
            on_delivery=delivered,
        )

    for partition, key, value, items in as_records(events, settings.topic_partitions, per_record):
        send(value, key, partition, items)
    assert producer.flush(60) == 0
    assert failures == [], failures[:5]
    return records


def as_records(
    events: list[Event], partitions: int, per_record: int = 1
) -> list[tuple[int, bytes | None, bytes, int]]:
    """``events`` as records of signatures.submitted, in order: each alone on the
    partition Kafka's partitioner gives its key, or with ``per_record`` > 1 up to that
    many to a SignatureBatch record of that partition (so every partition's order of
    events is the same either way). Each is (partition, key, value, events carried)."""
    if per_record == 1:
        return [(home_partition(e.key, partitions), e.key, e.value, 1) for e in events]
    records: list[tuple[int, bytes | None, bytes, int]] = []
    waiting: dict[int, list[tuple[bytes | None, bytes]]] = defaultdict(list)
    for event in events:
        partition = home_partition(event.key, partitions)
        batch = waiting[partition]
        batch.append((event.key, event.value))
        if len(batch) == per_record:
            records.append((partition, None, encode_batch(batch), len(batch)))
            batch.clear()
    records += [(p, None, encode_batch(b), len(b)) for p, b in waiting.items() if b]
    return records


class Results:
    """Reads counts.regional, signatures.rejected and signatures.duplicates, and the
    keys of signatures.accepted.

    Verdicts are counted once per source position, as every consumer must: after a
    crash a verdict may be delivered again (docs/exactly-once.md). ``redelivered``
    says how many were.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.consumer: Consumer = kafka.consumer(settings, group_id=f"{settings.topic_prefix}check")
        self.latest: dict[bytes, dict[str, object]] = {}
        self.verdicts: dict[tuple[str, int, int, int], tuple[str, str]] = {}
        self.redelivered = 0
        #: Records of counts.regional that came after one of their key with a larger
        #: version (and so were not kept).
        self.older_versions_after_newer = 0
        self.accepted_keys: set[bytes] = set()
        #: Which events of each record of signatures.submitted (partition, offset) have
        #: left validate: as a verdict, or sent home on signatures.valid.
        self.handled: defaultdict[tuple[int, int], set[int]] = defaultdict(set)
        create_topics(settings)
        topics = [settings.topic(t.name) for t in (COUNTS, REJECTED, DUPLICATES, ACCEPTED, VALID)]
        metadata = kafka.admin_client(settings).list_topics(timeout=10).topics
        self.consumer.assign(
            [TopicPartition(t, p, 0) for t in topics for p in metadata[t].partitions]
        )

    def poll(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        counts_topic = self.settings.topic(COUNTS.name)
        accepted_topic = self.settings.topic(ACCEPTED.name)
        valid_topic = self.settings.topic(VALID.name)
        while (left := deadline - time.monotonic()) > 0:
            for message in self.consumer.consume(5000, timeout=min(0.5, left)):
                key, value = message.key(), message.value()
                if message.error() or value is None:
                    continue
                if message.topic() in (accepted_topic, valid_topic):
                    if message.topic() == accepted_topic and key is not None:
                        self.accepted_keys.add(key)
                    self._handled(codec("SignatureAccepted").decode(value))
                elif message.topic() == counts_topic and key is not None:
                    self._count(key, codec("RegionalCount").decode(value))
                else:
                    record = codec("SignatureRejected").decode(value)
                    position = (
                        record["source_topic"],
                        record["source_partition"],
                        record["source_offset"],
                        record["source_index"],
                    )
                    self._handled(record)
                    verdict = (record["petition_id"], record["reason"])
                    if position in self.verdicts:
                        self.redelivered += 1
                        assert self.verdicts[position] == verdict, (position, verdict)
                    self.verdicts[position] = verdict

    def _count(self, key: bytes, count: dict[str, Any]) -> None:
        """Keep the record with the largest version, as every reader of counts.regional
        must (docs/exactly-once.md): a worker frozen past its session timeout may
        deliver what it had queued after its successor's newer totals."""
        kept = self.latest.get(key)
        if kept is not None and int(count["version"]) < int(kept["version"]):  # type: ignore[call-overload]
            self.older_versions_after_newer += 1
            return
        self.latest[key] = count

    def _handled(self, record: dict[str, Any]) -> None:
        position = (record["source_partition"], record["source_offset"])
        self.handled[position].add(record["source_index"])

    def handled_events(self) -> int:
        """How many events of signatures.submitted have left validate so far."""
        return sum(map(len, self.handled.values()))

    def partly_handled(self, records: dict[tuple[int, int], int]) -> list[tuple[int, int]]:
        """The records (of ``produce``'s answer) some but not all of whose events have
        left validate: batches that were open when the worker stopped."""
        return [
            position
            for position, items in records.items()
            if 0 < len(self.handled.get(position, ())) < items
        ]

    @property
    def reasons(self) -> Counter[tuple[str, str]]:
        return Counter(self.verdicts.values())

    def counts(self) -> Counter[tuple[str, str, str]]:
        return Counter(
            {
                (str(c["petition_id"]), str(c["region"]), str(c["country"])): int(c["signatures"])  # type: ignore[call-overload]
                for c in self.latest.values()
            }
        )

    def matches(self, truth: Truth) -> bool:
        return self.counts() == truth.counts and self.reasons == truth.reasons

    def wait_for(self, truth: Truth, timeout: float, worker: WorkerProcess | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.matches(truth):
            if worker is not None and not worker.alive():
                raise AssertionError(f"the worker died:\n{worker.log_tail()}")
            self.poll(1.0)
        if not self.matches(truth) and worker is not None:
            # The test's own asserts will say what differs; this says why, for a run
            # (CI) whose worker log is gone afterwards.
            print(f"no match after {timeout:.0f} s; the worker's warnings:")
            print(worker.warnings())
        self.poll(3.0)  # anything counted twice would arrive now

    def records_on(self, name: str) -> int:
        """How many records a topic of this run holds (the sum of its end offsets)."""
        topic = self.settings.topic(name)
        metadata = kafka.admin_client(self.settings).list_topics(topic, timeout=10).topics
        return sum(
            self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in metadata[topic].partitions
        )

    def close(self) -> None:
        self.consumer.close()


class MailerProcess(ChildProcess):
    """``countersign mailer`` as a child process, sending to ``smtp_url``."""

    def __init__(self, settings: Settings, log_path: Path, smtp_url: str, public_url: str) -> None:
        super().__init__(settings, log_path)
        self.extra_env = {"COUNTERSIGN_SMTP_URL": smtp_url, "COUNTERSIGN_PUBLIC_URL": public_url}

    def start(self) -> None:
        self.spawn(["mailer"], _environment(self.settings, self.extra_env))
