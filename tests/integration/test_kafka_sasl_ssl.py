"""The whole pipeline over a SASL_SSL listener, and over a listener that asks for a
client certificate (mutual TLS), as managed Kafkas offer them: a broker of this
module's own (``kafka.sh up --secure``: a keytool-made CA, SCRAM-SHA-512 and PLAIN, a
client certificate), every client logged in through the same settings."""

from __future__ import annotations

import random
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


#: Where the broker's four ports are drawn from: below the kernel's ephemeral range
#: (32768 and up), which every client connection of the suite's other process takes
#: its local port from. A port picked there was seen taken again by the time the
#: broker bound it, after the seconds keytool takes.
PORTS_BELOW_EPHEMERAL = range(21000, 32000, 4)


def _four_free_ports() -> int:
    """A port P such that P, P + 1 (the controller), P + 2 (SASL_SSL) and P + 3
    (mutual TLS) are free."""
    while True:
        port = random.choice(PORTS_BELOW_EPHEMERAL)
        if all(_port_free(port + i) for i in range(4)):
            return port


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    for attempt in range(3):  # another process may still bind a port first: new ports
        directory = tmp_path_factory.mktemp(f"secure{attempt}") / "kafka"
        env = {"KAFKA_DATA_DIR": str(directory), "KAFKA_PORT": str(_four_free_ports())}
        try:
            plaintext, sasl_ssl, mutual_tls = kafka_sh("up", "--secure", env=env).splitlines()
            break
        except RuntimeError as exc:
            kafka_sh("down", env=env)
            # kafka.sh says so when the node died at start (a port bound first).
            if "exited during start-up" not in str(exc) or attempt == 2:
                raise
    try:
        yield {
            "plaintext": plaintext,
            "sasl_ssl": sasl_ssl,
            "mutual_tls": mutual_tls,
            "ca": str(directory / "tls" / "ca.pem"),
            "client_cert": str(directory / "tls" / "client.pem"),
            "client_key": str(directory / "tls" / "client-key.pem"),
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


def mutual_tls_settings(broker: dict[str, str], directory: Path, **more: object) -> Settings:
    return isolated_settings(broker["mutual_tls"], uuid.uuid4().hex[:10], directory).model_copy(
        update={
            "kafka_security_protocol": "SSL",
            "kafka_ssl_ca_file": Path(broker["ca"]),
            "kafka_ssl_cert_file": Path(broker["client_cert"]),
            "kafka_ssl_key_file": Path(broker["client_key"]),
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


def test_the_pipeline_counts_exactly_over_mutual_tls(
    secure_broker: dict[str, str], tmp_path: Path
) -> None:
    """Every client presents the certificate: the admin client and producers
    (librdkafka) and the worker's Faust consumer and producer (aiokafka)."""
    settings = mutual_tls_settings(secure_broker, tmp_path)
    events, petitions, truth = dataset_with_truth(37, 600, settings)
    prepare(settings, petitions)
    results = Results(settings)
    try:
        with WorkerProcess(
            settings, tmp_path / "worker.log", free_port(), with_api=False
        ) as worker:
            worker.start()
            produce(settings, events)
            results.wait_for(truth, timeout=300, worker=worker)
            assert results.reasons == truth.reasons
            assert results.counts() == truth.counts
    finally:
        results.close()


def test_a_client_without_a_certificate_is_turned_away(
    secure_broker: dict[str, str], tmp_path: Path
) -> None:
    """The positive control of the test above: the listener does ask for one, and the
    refusal says so at once, naming the settings to check."""
    settings = mutual_tls_settings(
        secure_broker, tmp_path, kafka_ssl_cert_file=None, kafka_ssl_key_file=None
    )
    started = time.monotonic()
    with pytest.raises(KafkaAuthenticationFailed) as refused:
        kafka.cluster_metadata(kafka.admin_client(settings), settings, timeout=30)
    assert time.monotonic() - started < 10  # not the 30 s timeout
    assert f"ssl://{secure_broker['mutual_tls']}" in str(refused.value)
    assert "COUNTERSIGN_KAFKA_SSL_CERT_FILE" in str(refused.value)
    metadata = kafka.cluster_metadata(
        kafka.admin_client(mutual_tls_settings(secure_broker, tmp_path)), settings, timeout=10
    )
    assert len(metadata.brokers) == 1
