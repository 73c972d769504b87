"""Kafka's TLS and SASL settings, and what each client family is given."""

from __future__ import annotations

import ssl
from pathlib import Path

import faust
import pytest
from pydantic import ValidationError

from streams.core.children import environment
from streams.core.kafka_security import librdkafka_config, ssl_context
from streams.core.settings import Settings
from streams.worker.engine import broker_credentials

SASL = {
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_username": "countersign",
    "kafka_sasl_password": "s3cret-password",
}


def test_plaintext_is_the_default_and_adds_nothing_but_the_protocol() -> None:
    assert librdkafka_config(Settings()) == {"security.protocol": "PLAINTEXT"}
    assert ssl_context(Settings()) is None
    assert broker_credentials(Settings()) is None


def test_sasl_ssl_gives_librdkafka_the_login_and_the_ca(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not read here")
    settings = Settings(**SASL, kafka_ssl_ca_file=ca)
    assert librdkafka_config(settings) == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "countersign",
        "sasl.password": "s3cret-password",
        "ssl.endpoint.identification.algorithm": "https",
    } | {"ssl.ca.location": str(ca)}


def test_sasl_ssl_gives_faust_the_same_login_over_tls() -> None:
    credentials = broker_credentials(Settings(**SASL, kafka_sasl_mechanism="PLAIN"))
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.mechanism.value == "PLAIN"
    assert (credentials.username, credentials.password) == ("countersign", "s3cret-password")
    assert isinstance(credentials.ssl_context, ssl.SSLContext)
    assert credentials.ssl_context.check_hostname


def test_sasl_plaintext_has_no_tls() -> None:
    settings = Settings(**{**SASL, "kafka_security_protocol": "SASL_PLAINTEXT"})
    assert "ssl.endpoint.identification.algorithm" not in librdkafka_config(settings)
    credentials = broker_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_PLAINTEXT"


def test_ssl_without_sasl_gives_faust_a_tls_context_only() -> None:
    settings = Settings(kafka_security_protocol="SSL", kafka_ssl_check_hostname=False)
    assert librdkafka_config(settings)["ssl.endpoint.identification.algorithm"] == "none"
    assert isinstance(broker_credentials(settings), faust.SSLCredentials)
    context = ssl_context(settings)
    assert context is not None
    assert not context.check_hostname


def test_the_password_file_wins_and_loses_its_final_newline(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-the-file\n")
    settings = Settings(**SASL, kafka_sasl_password_file=secret)
    assert librdkafka_config(settings)["sasl.password"] == "from-the-file"


def test_the_password_is_one_of_the_secrets_the_logs_hide(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-the-file")
    assert "from-the-file" in Settings(**SASL, kafka_sasl_password_file=secret).secret_values
    assert "s3cret-password" in Settings(**SASL).secret_values


def test_sasl_without_a_password_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="has no password"):
        Settings(**{**SASL, "kafka_sasl_password": ""})


def test_sasl_without_a_user_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="COUNTERSIGN_KAFKA_SASL_USERNAME"):
        Settings(**{**SASL, "kafka_sasl_username": ""})


def test_a_missing_ca_file_is_refused_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"COUNTERSIGN_KAFKA_SSL_CA_FILE=.*no such file"):
        Settings(**SASL, kafka_ssl_ca_file=tmp_path / "absent.pem")


def test_a_client_certificate_needs_its_key(tmp_path: Path) -> None:
    cert = tmp_path / "client.pem"
    cert.write_text("")
    with pytest.raises(ValidationError, match="go together"):
        Settings(kafka_security_protocol="SSL", kafka_ssl_cert_file=cert)


def test_a_child_process_reads_the_same_security_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    parent = Settings(**SASL, kafka_ssl_ca_file=ca, kafka_ssl_check_hostname=False)
    for name, value in environment(parent).items():
        monkeypatch.setenv(name, value)
    child = Settings()
    assert librdkafka_config(child) == librdkafka_config(parent)
