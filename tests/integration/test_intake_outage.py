"""Kafka goes away mid-traffic: the intake answers 503 with Retry-After and never
202; once the broker is back, every 202 is counted and no 503 is.

The test runs its own single-node broker (so it can kill it) and, after the outage,
a real worker that counts what reached signatures.submitted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.core.settings import Settings
from streams.core.topicspecs import ACCEPTED
from streams.demo.simulator import default_petitions
from streams.testing.processes import IntakeProcess, WorkerProcess, free_port, prepare
from tests.conftest import kafka_sh
from tests.intake_client import Answer, post_json, read_topic

pytestmark = [pytest.mark.slow, pytest.mark.kills]
OUTAGE_SECONDS = 12


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[dict[str, str]]:
    port = 29092
    env = {"KAFKA_PORT": str(port), "KAFKA_DATA_DIR": str(tmp_path / "kafka"), "KAFKA_HEAP": "512m"}
    kafka_sh("up", env=env)
    try:
        yield {"bootstrap": f"127.0.0.1:{port}", **env}
    finally:
        kafka_sh("down", env=env)


class Traffic(threading.Thread):
    """Signers arriving at a steady rate, each with a new email and address.

    Requests are started on schedule by a large pool, so the few that Kafka took
    just before the crash (they wait for their delivery report until the broker is
    back) do not hold up the ones that arrive during the outage.
    """

    RATE = 40  # requests per second

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.answers: list[tuple[float, str, Answer]] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.sent = 0

    def run(self) -> None:
        with ThreadPoolExecutor(256) as pool:
            n = 0
            started = time.monotonic()
            while not self.stop.is_set():
                n += 1
                pool.submit(self.sign, n)
                self.sent = n
                time.sleep(max(0.0, started + n / self.RATE - time.monotonic()))

    def sign(self, n: int) -> None:
        signature_id = f"outage-{n:06d}"
        fields = {
            "signature_id": signature_id,
            "full_name": f"Signer {n}",
            "email": f"signer{n}@example.org",
            "country": "FR",
        }
        ip = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        answer = post_json(self.url, "syria-icc", fields, ip=ip, timeout=180)
        with self.lock:
            self.answers.append((time.monotonic(), signature_id, answer))

    def statuses(self, since: float = 0.0) -> set[int]:
        with self.lock:
            return {a.status for t, _, a in self.answers if t >= since}


def accepted_ids(settings: Settings, expect: int, timeout: float) -> set[str]:
    """Distinct signature_ids on signatures.accepted (the dedupe agent's output; a
    record may be delivered twice after a crash, a signature is counted once)."""
    records = read_topic(
        settings,
        ACCEPTED.name,
        "SignatureAccepted",
        lambda r: len({a["signature_id"] for a in r}) >= expect,
        timeout,
    )
    return {r["signature_id"] for r in records}


def test_503_while_kafka_is_down_and_every_202_counted_after(
    own_broker: dict[str, str], test_id: str, tmp_path: Path
) -> None:
    settings = Settings(
        env="test",
        kafka_bootstrap_servers=own_broker["bootstrap"],
        topic_prefix=f"t{test_id}.",
        data_dir=tmp_path / "data",
    )
    prepare(settings, default_petitions(datetime.now(UTC)))
    intake = IntakeProcess(settings, tmp_path / "intake.log", free_port())
    # Kafka must confirm within 60 s: longer than the outage, so what was handed to
    # Kafka before the crash is confirmed after it (202), never left in doubt (504).
    intake.extra_env["COUNTERSIGN_INTAKE_DELIVERY_TIMEOUT_SECONDS"] = "60"
    traffic = Traffic(intake.url)
    with intake:
        intake.start(wait_for_petition="syria-icc")
        traffic.start()
        try:
            time.sleep(3)
            assert traffic.statuses() == {202}, intake.log_tail()

            kafka_sh("kill", "1", env=own_broker)  # SIGKILL: the broker is gone
            down_at = time.monotonic()
            deadline = down_at + 30
            while 503 not in traffic.statuses(since=down_at) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert 503 in traffic.statuses(since=down_at), intake.log_tail()
            time.sleep(max(0.0, down_at + OUTAGE_SECONDS - time.monotonic()))

            kafka_sh("up", env=own_broker)
            back_at = time.monotonic()
            while 202 not in traffic.statuses(since=back_at) and time.monotonic() < back_at + 60:
                time.sleep(0.2)
            time.sleep(2)
        finally:
            traffic.stop.set()
            traffic.join(240)

    answers = [(sid, a) for _, sid, a in traffic.answers]
    assert len({sid for sid, _ in answers}) == len(answers) == traffic.sent  # all answered
    assert {a.status for _, a in answers} == {202, 503}, intake.log_tail()
    assert all(a.retry_after for _, a in answers if a.status == 503)
    took = {sid for sid, a in answers if a.status == 202}
    refused = {sid for sid, a in answers if a.status == 503}
    assert took and refused

    with WorkerProcess(settings, tmp_path / "worker.log", free_port()) as worker:
        worker.start()
        counted = accepted_ids(settings, expect=len(took), timeout=180)
    assert counted == took, (len(counted), len(took), len(counted & refused))
