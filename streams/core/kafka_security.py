"""How every Kafka client authenticates: TLS and SASL, as a managed Kafka asks.

One set of settings (``KafkaSecuritySettings``, mixed into ``Settings``) and two
translations of it: ``librdkafka_config`` for confluent-kafka (producers, consumers, the
admin client) and ``ssl_context`` for aiokafka, which Faust's consumer and producer use
(``streams.worker.app`` wraps it in Faust's credentials). A secret comes from the
environment or from a file that holds only the secret; either way it is in
``secret_values``, which the log redaction hides.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings

from streams.core.errors import ConfigurationError

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaSecuritySettings(BaseSettings):
    """The ``COUNTERSIGN_KAFKA_*`` security settings (their defaults: plaintext)."""

    #: As Kafka names them: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    #: A file holding only the SASL password (a mounted Secret): wins over the above.
    kafka_sasl_password_file: Path | None = None
    #: The CA certificate(s) that signed the brokers' (PEM); none: the system's.
    kafka_ssl_ca_file: Path | None = None
    #: A client certificate and its key (PEM), for brokers that ask for one (mTLS).
    kafka_ssl_cert_file: Path | None = None
    kafka_ssl_key_file: Path | None = None
    kafka_ssl_key_password: SecretStr = SecretStr("")
    #: Whether a broker's certificate must name the host it is reached at.
    kafka_ssl_check_hostname: bool = True

    @property
    def kafka_uses_sasl(self) -> bool:
        return self.kafka_security_protocol.startswith("SASL_")

    @property
    def kafka_uses_tls(self) -> bool:
        return self.kafka_security_protocol in {"SSL", "SASL_SSL"}

    @property
    def kafka_sasl_secret(self) -> str:
        """The SASL password: the file's content (without its final newline) when one
        is named, else ``kafka_sasl_password``."""
        if self.kafka_sasl_password_file is None:
            return self.kafka_sasl_password.get_secret_value()
        try:
            return self.kafka_sasl_password_file.read_text().rstrip("\r\n")
        except OSError as exc:
            raise ConfigurationError(
                f"COUNTERSIGN_KAFKA_SASL_PASSWORD_FILE={self.kafka_sasl_password_file}: "
                f"{exc.strerror}"
            ) from None

    @property
    def kafka_secret_values(self) -> list[str]:
        """The Kafka secrets this process knows (for the log redaction)."""
        values = [self.kafka_ssl_key_password.get_secret_value()]
        if self.kafka_uses_sasl:
            values.append(self.kafka_sasl_secret)
        return [value for value in values if value]

    def describe_kafka_login(self) -> str:
        """How we log in, for an error message: never a secret."""
        if self.kafka_uses_sasl:
            return (
                f"{self.kafka_security_protocol}, {self.kafka_sasl_mechanism} as "
                f"{self.kafka_sasl_username!r}"
            )
        return self.kafka_security_protocol

    @model_validator(mode="after")
    def _kafka_login_is_complete(self) -> Self:
        """Refuse at start what would only fail at the first connection."""
        if self.kafka_uses_sasl and not self.kafka_sasl_username:
            raise ConfigurationError(
                f"COUNTERSIGN_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "COUNTERSIGN_KAFKA_SASL_USERNAME and a password "
                "(COUNTERSIGN_KAFKA_SASL_PASSWORD or COUNTERSIGN_KAFKA_SASL_PASSWORD_FILE)"
            )
        if self.kafka_uses_sasl and not self.kafka_sasl_secret:
            raise ConfigurationError(
                f"COUNTERSIGN_KAFKA_SASL_USERNAME={self.kafka_sasl_username} has no password: "
                "set COUNTERSIGN_KAFKA_SASL_PASSWORD or COUNTERSIGN_KAFKA_SASL_PASSWORD_FILE"
            )
        if (self.kafka_ssl_cert_file is None) != (self.kafka_ssl_key_file is None):
            raise ConfigurationError(
                "COUNTERSIGN_KAFKA_SSL_CERT_FILE and COUNTERSIGN_KAFKA_SSL_KEY_FILE go together"
            )
        for name in ("kafka_ssl_ca_file", "kafka_ssl_cert_file", "kafka_ssl_key_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ConfigurationError(f"COUNTERSIGN_{name.upper()}={path}: no such file")
        return self


def librdkafka_config(settings: KafkaSecuritySettings) -> dict[str, Any]:
    """The security part of a confluent-kafka client's configuration."""
    config: dict[str, Any] = {"security.protocol": settings.kafka_security_protocol}
    if settings.kafka_uses_sasl:
        config |= {
            "sasl.mechanisms": settings.kafka_sasl_mechanism,
            "sasl.username": settings.kafka_sasl_username,
            "sasl.password": settings.kafka_sasl_secret,
        }
    if settings.kafka_uses_tls:
        config["ssl.endpoint.identification.algorithm"] = (
            "https" if settings.kafka_ssl_check_hostname else "none"
        )
        if settings.kafka_ssl_ca_file is not None:
            config["ssl.ca.location"] = str(settings.kafka_ssl_ca_file)
        if settings.kafka_ssl_cert_file is not None:
            config["ssl.certificate.location"] = str(settings.kafka_ssl_cert_file)
            config["ssl.key.location"] = str(settings.kafka_ssl_key_file)
        if settings.kafka_ssl_key_password.get_secret_value():
            config["ssl.key.password"] = settings.kafka_ssl_key_password.get_secret_value()
    return config


def ssl_context(settings: KafkaSecuritySettings) -> ssl.SSLContext | None:
    """The TLS context of an aiokafka client (None over plaintext): the same CA,
    client certificate and host-name check as ``librdkafka_config``."""
    if not settings.kafka_uses_tls:
        return None
    ca = settings.kafka_ssl_ca_file
    context = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
    context.check_hostname = settings.kafka_ssl_check_hostname
    if settings.kafka_ssl_cert_file is not None:
        context.load_cert_chain(
            str(settings.kafka_ssl_cert_file),
            str(settings.kafka_ssl_key_file),
            settings.kafka_ssl_key_password.get_secret_value() or None,
        )
    return context
