"""Fixtures shared by the whole suite.

The integration tests run against a real Apache Kafka (KRaft) that
``deploy/kafka/kafka.sh`` starts: ``make test`` starts it before pytest, and when pytest
is run alone the ``kafka`` fixture starts it (and stops what it started). Each test
gets a fresh topic prefix and consumer group, so tests never see each other's data.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from streams.core.settings import Settings
from streams.testing.cleanup import delete_run_topics
from streams.testing.mail import MailpitServer
from streams.testing.processes import IntakeProcess, Results, WorkerProcess, free_port

REPO = Path(__file__).resolve().parents[1]
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


def broker_answers(bootstrap: str, expected_brokers: int = 1, timeout: float = 3.0) -> bool:
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        return len(admin.list_topics(timeout=timeout).brokers) >= expected_brokers
    except Exception:
        return False


def kafka_sh(*args: str, env: dict[str, str] | None = None) -> str:
    """Run deploy/kafka/kafka.sh with this interpreter for its readiness check."""
    result = subprocess.run(
        [str(KAFKA_SH), *args],
        env={**os.environ, "PYTHON": sys.executable, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"kafka.sh {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout.strip()


@pytest.fixture(scope="session")
def kafka() -> Iterator[str]:
    """Bootstrap servers of a running broker: reused if one answers, else started."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP)
    if broker_answers(bootstrap):
        yield bootstrap
        return
    if bootstrap != DEFAULT_BOOTSTRAP:
        pytest.fail(f"KAFKA_BOOTSTRAP_SERVERS={bootstrap} does not answer")
    kafka_sh("up")
    try:
        yield bootstrap
    finally:
        kafka_sh("down")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A fresh 3-node cluster (``kafka.sh up --cluster``) in a temporary directory,
    stopped after the module; its bootstrap servers and the environment that names it
    to kafka.sh (``kafka_sh("kill", "2", "--cluster", env=cluster)``)."""
    env = {"KAFKA_DATA_DIR": str(tmp_path_factory.mktemp("cluster") / "kafka")}
    bootstrap = kafka_sh("up", "--cluster", env=env)
    try:
        yield {"bootstrap": bootstrap, **env}
    finally:
        kafka_sh("down", "--cluster", env=env)


@pytest.fixture
def test_id() -> str:
    return uuid.uuid4().hex[:10]


def isolated_settings(kafka: str, test_id: str, directory: Path) -> Settings:
    """Settings of an isolated pipeline: its own topic prefix, app id and data dir."""
    return Settings(
        env="test",
        kafka_bootstrap_servers=kafka,
        topic_prefix=f"t{test_id}.",
        data_dir=directory / "data",
        # A restart after a kill -9 waits this long for the dead member to leave.
        consumer_session_timeout_seconds=10,
    )


@pytest.fixture
def settings(kafka: str, test_id: str, tmp_path: Path) -> Iterator[Settings]:
    """The test's settings; its topics are deleted after it (those of the processes
    it started are stopped first, as their fixtures depend on this one)."""
    test_settings = isolated_settings(kafka, test_id, tmp_path)
    yield test_settings
    delete_run_topics(test_settings, timeout=5.0)  # a stopped broker: nothing to tidy


@pytest.fixture(scope="session")
def clickhouse_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One embedded ClickHouse (chDB) for the session: chDB opens one data directory
    per process, so tests share it and each uses a database of its own."""
    return f"chdb://{tmp_path_factory.mktemp('chdb') / 'clickhouse'}"


@pytest.fixture
def sink_settings(settings: Settings, clickhouse_dsn: str, test_id: str) -> Settings:
    return settings.model_copy(
        update={"clickhouse_dsn": clickhouse_dsn, "clickhouse_database": f"t_{test_id}"}
    )


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    """A `countersign worker` process with the test's settings (started by the test)."""
    with WorkerProcess(settings, tmp_path / "worker.log", free_port()) as process:
        yield process


@pytest.fixture
def intake(settings: Settings, tmp_path: Path) -> Iterator[IntakeProcess]:
    """A `countersign intake` process with the test's settings (started by the test)."""
    with IntakeProcess(settings, tmp_path / "intake.log", free_port()) as process:
        yield process


@pytest.fixture
def mailpit(tmp_path: Path) -> Iterator[MailpitServer]:
    """A Mailpit of the test's own (``make install`` builds it)."""
    with MailpitServer(tmp_path / "mailpit").start() as server:
        yield server


@pytest.fixture
def results(settings: Settings) -> Iterator[Results]:
    reader = Results(settings)
    try:
        yield reader
    finally:
        reader.close()
