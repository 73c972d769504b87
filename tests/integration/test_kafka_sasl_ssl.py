"""The whole pipeline over a SASL_SSL listener, as a managed Kafka offers one: a broker
of this module's own (``kafka.sh up --secure``: a keytool-made CA, SCRAM-SHA-512 and
PLAIN), every client logged in through the same settings."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from streams.core import kafka
from streams.core.children import environment
from streams.core.errors import KafkaAuthenticationFailed
from streams.core.settings import Settings
from streams.testing.dataset import dataset_with_truth
from streams.testing.processes import Results, WorkerProcess, free_port, prepare, produce
from tests.conftest import isolated_settings, kafka_sh

pytestmark = pytest.mark.slow

WRONG = SecretStr("not-the-password")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _three_free_ports() -> int:
    """A port P such that P, P + 1 (the controller) and P + 2 (SASL_SSL) are free."""
    while True:
        port = free_port()
        if port < 65000 and all(_port_free(port + i) for i in (1, 2)):
            return port


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    directory = tmp_path_factory.mktemp("secure") / "kafka"
    env = {"KAFKA_DATA_DIR": str(directory), "KAFKA_PORT": str(_three_free_ports())}
    plaintext, sasl_ssl = kafka_sh("up", "--secure", env=env).splitlines()
    try:
        yield {
            "plaintext": plaintext,
            "sasl_ssl": sasl_ssl,
            "ca": str(directory / "tls" / "ca.pem"),
            "password": (directory / "tls" / "sasl-password").read_text().strip(),
            **env,
        }
    finally:
        kafka_sh("down", env=env)


def secure_settings(
    broker: dict[str, str], directory: Path, mechanism: str = "SCRAM-SHA-512", **more: object
) -> Settings:
    return isolated_settings(broker["sasl_ssl"], uuid.uuid4().hex[:10], directory).model_copy(
        update={
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": mechanism,
            "kafka_sasl_username": "countersign",
            "kafka_sasl_password": SecretStr(broker["password"]),
            "kafka_ssl_ca_file": Path(broker["ca"]),
            **more,
        }
    )


def test_the_pipeline_counts_exactly_over_sasl_ssl(
    secure_broker: dict[str, str], tmp_path: Path
) -> None:
    settings = secure_settings(secure_broker, tmp_path)
    events, petitions, truth = dataset_with_truth(31, 3_000, settings)
    prepare(settings, petitions)
    results = Results(settings)
    try:
        with WorkerProcess(settings, tmp_path / "worker.log", free_port()) as worker:
            worker.start()
            produce(settings, events)
            results.wait_for(truth, timeout=300, worker=worker)
            assert results.reasons == truth.reasons
            assert results.counts() == truth.counts
            assert worker.api is not None
            logs = worker.log_path.read_text() + worker.api.log_path.read_text()
    finally:
        results.close()
    assert secure_broker["password"] not in logs


def test_the_plaintext_port_is_not_the_one_in_use(secure_broker: dict[str, str]) -> None:
    """A positive control for the test above: the secure port does not speak plaintext,
    so the pipeline cannot have counted over it without TLS and a login."""
    admin = AdminClient({"bootstrap.servers": secure_broker["sasl_ssl"], "log_level": 0})
    with pytest.raises(Exception):  # noqa: B017 - librdkafka: transport failure
        admin.list_topics(timeout=3)


def test_plain_logs_in_too(secure_broker: dict[str, str], tmp_path: Path) -> None:
    settings = secure_settings(secure_broker, tmp_path, mechanism="PLAIN")
    metadata = kafka.cluster_metadata(kafka.admin_client(settings), settings, timeout=10)
    assert len(metadata.brokers) == 1


def test_a_wrong_password_is_refused_at_once_naming_the_listener(
    secure_broker: dict[str, str], tmp_path: Path
) -> None:
    settings = secure_settings(
        secure_broker, tmp_path, kafka_sasl_password=SecretStr("not-the-password")
    )
    started = time.monotonic()
    with pytest.raises(KafkaAuthenticationFailed) as refused:
        kafka.cluster_metadata(kafka.admin_client(settings), settings, timeout=30)
    assert time.monotonic() - started < 10  # not the 30 s timeout
    message = str(refused.value)
    assert f"sasl_ssl://{secure_broker['sasl_ssl']}" in message
    assert "SCRAM-SHA-512 as 'countersign'" in message
    assert "not-the-password" not in message


def test_the_cli_says_why_it_cannot_log_in(secure_broker: dict[str, str], tmp_path: Path) -> None:
    settings = secure_settings(
        secure_broker, tmp_path, kafka_sasl_password=SecretStr("not-the-password")
    )
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "streams", "topics", "create"],
        env=environment(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode != 0
    assert time.monotonic() - started < 30
    assert "refused our login" in run.stderr
    assert f"sasl_ssl://{secure_broker['sasl_ssl']}" in run.stderr
    assert "not-the-password" not in run.stderr + run.stdout
