"""Typed settings, loaded once from the environment and passed in.

Every knob lives here with a default that runs on one machine. Environment variables
carry the ``COUNTERSIGN_`` prefix (``COUNTERSIGN_TOPIC_PREFIX=...``), except the usual
``KAFKA_BOOTSTRAP_SERVERS``. The object is frozen: code that needs a variant (a test
with its own topic prefix) makes one with ``settings.model_copy(update=...)``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from streams.core.errors import ConfigurationError
from streams.core.kafka_security import KafkaSecuritySettings
from streams.core.transparency_settings import TransparencySettings

#: The development secrets: public (they are in this file), so they are refused by a
#: process that listens beyond loopback or runs with ``env=production``.
#: Hashes emails on a laptop.
DEVELOPMENT_EMAIL_HASH_KEY = "countersign-development-key-do-not-use-in-production"
#: Signs the confirmation links mailed to signers and the sign form's token.
DEVELOPMENT_SIGNING_KEY = "countersign-development-signing-key-do-not-use-in-production"
#: The audit tools' token for ``countersign serve``'s /ops endpoints.
DEVELOPMENT_OPS_TOKEN = "countersign-development-ops-token"
#: Wraps the signers' data keys on a laptop (docs/privacy.md).
DEVELOPMENT_MASTER_KEY = "countersign-development-master-key-do-not-use-in-production"
#: The shortest secret (each key and the ops token), in any environment: an
#: HMAC-SHA256 key shorter than the hash (32 bytes) is weaker than the hash, an empty
#: email-hash key hides nothing (every hash could be recomputed from a list of
#: addresses), and a short token can be guessed.
MIN_SECRET_BYTES = 32
#: How to make a secret, as every refusal says.
MAKE_A_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
#: One window of ``intake_rate_limits``: ``count/seconds``.
RATE_WINDOW = re.compile(r"([0-9]+)/([0-9]+)")
#: What a browser sends as Origin: a scheme and a host, no path.
ORIGIN = re.compile(r"https?://[^/?#\s]+")


def parse_rate_limits(
    text: str, name: str = "COUNTERSIGN_INTAKE_RATE_LIMITS"
) -> list[tuple[int, float]]:
    """``"1/60,5/300"`` as ``[(1, 60.0), (5, 300.0)]`` (empty: no limit).

    A window of 0 signatures or 0 seconds cannot be enforced (every request would
    fail on it), so it is refused here, when the process starts, not per request.
    """
    windows = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        window = RATE_WINDOW.fullmatch(part)
        if window is None or int(window[1]) < 1 or int(window[2]) < 1:
            raise ConfigurationError(
                f"{name}={text!r}: each window is count/seconds, "
                f"both whole numbers of at least 1 (e.g. 1/60,5/300); {part!r} is not"
            )
        windows.append((int(window[1]), float(window[2])))
    return windows


def _check_length(name: str, secret: bytes) -> None:
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigurationError(
            f"{name} has {len(secret)} bytes; at least {MIN_SECRET_BYTES} are needed "
            f"(make one with: {MAKE_A_SECRET})"
        )


def parse_previous_keys(spec: str) -> list[tuple[str, bytes]]:
    """``id=key,id=key`` -> ``[(id, key bytes), ...]``; ConfigurationError if garbled."""
    keys = []
    for part in spec.split(","):
        if not part.strip():
            continue
        key_id, equals, key = part.strip().partition("=")
        if not equals or not key_id or not key:
            raise ConfigurationError(
                "COUNTERSIGN_EMAIL_HASH_PREVIOUS_KEYS must look like id=key,id=key"
            )
        keys.append((key_id, key.encode()))
    return keys


class Settings(KafkaSecuritySettings, TransparencySettings):
    """Everything a Countersign process may be told from outside (Kafka's TLS and SASL
    settings: ``KafkaSecuritySettings``; the public log's: ``TransparencySettings``)."""

    model_config = SettingsConfigDict(
        env_prefix="COUNTERSIGN_", frozen=True, extra="ignore", populate_by_name=True
    )

    env: Literal["development", "test", "production"] = "development"

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices(
            "KAFKA_BOOTSTRAP_SERVERS", "COUNTERSIGN_KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    topic_prefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Prepended to every topic name: several pipelines on one cluster.",
    )
    topic_partitions: int = Field(default=6, ge=1, le=1000)
    topic_replication_factor: int = Field(default=1, ge=1, le=7)
    #: How long the pre-dedupe topic ``signatures.valid`` keeps records.
    bounded_retention_days: int = Field(default=7, ge=1)

    app_id: str = Field(default="countersign", pattern=r"^[A-Za-z0-9._-]+$")
    data_dir: Path = Path(".data")
    email_hash_key: SecretStr = SecretStr(DEVELOPMENT_EMAIL_HASH_KEY)
    #: Names ``email_hash_key``: every accepted signature records the id of the key
    #: that hashed its email, so the key can be rotated.
    email_hash_key_id: str = Field(default="k1", pattern=r"^[A-Za-z0-9._-]{1,32}$")
    #: Keys used before a rotation, ``id=key,id=key``: a signer who signed under one
    #: of them is still recognised (a later submission is a duplicate of theirs).
    email_hash_previous_keys: SecretStr = SecretStr("")
    #: Wraps every signer's data key (docs/privacy.md). Never written to Kafka; give
    #: it here or in ``master_key_file`` (a file holding only the secret).
    master_key: SecretStr = SecretStr(DEVELOPMENT_MASTER_KEY)
    master_key_file: Path | None = None
    #: Names ``master_key`` in every wrapped data key, so that it can be rotated.
    master_key_id: str = Field(default="m1", pattern=r"^[A-Za-z0-9._-]{1,32}$")
    #: keys.signers rolls a segment and compacts at least this often: an erased key is
    #: off the brokers' disks within 1.5 times this plus 90 s (docs/privacy.md states
    #: and tests the bound).
    erasure_window_seconds: float = Field(default=3600.0, ge=1, le=7 * 24 * 3600)
    #: How often ``serve`` looks for petitions whose ``retain_names_days`` have passed
    #: and shreds their keys (a petition's names go at most this late).
    retention_check_seconds: float = Field(default=600.0, gt=0, le=24 * 3600)
    #: Whether the intake (and the demo feed) seal each signer's personal data before
    #: Kafka, so that it can be erased without touching a count (docs/privacy.md). Off
    #: only for a pipeline whose every consumer must read names in clear.
    seal_personal_data: bool = True

    #: Counts are exact under at_least_once because every agent is idempotent; Faust's
    #: exactly_once stalls on this topology in faust-streaming 0.15 (docs/exactly-once.md).
    processing_guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"
    #: The worker's event loop. uvloop is measured in docs/benchmarks.md; it stays
    #: opt-in until a CI hang seen once with it (on a fresh broker) is ruled out.
    event_loop: Literal["asyncio", "uvloop"] = "asyncio"
    #: How long a consumer group waits for a member that stopped heartbeating before
    #: it gives the member's partitions to others. After a ``kill -9`` the restarted
    #: worker (or mailer, or sink) waits this long to join its group. Kafka's default;
    #: the tests set 10 s. Heartbeats run on the consumer's own thread, so a busy
    #: event loop does not miss them.
    consumer_session_timeout_seconds: float = Field(default=45.0, ge=6, le=300)
    #: How often the worker commits its transactions (offsets, tables, outputs): the
    #: latency of counts versus the overhead of a commit.
    commit_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    #: How long the worker's producer waits to fill a batch. aiokafka sends each record
    #: in a request of its own at 0 (the socket writes were the worker's top cost).
    producer_linger_seconds: float = Field(default=0.01, ge=0, le=1)
    #: What validate waits each time it lets other tasks run inside a batch (every 16
    #: submissions). 0, the default, waits for nothing; the batch kill test sets a few
    #: milliseconds so that its kill surely lands while a batch is half handled.
    validate_batch_pause_seconds: float = Field(default=0.0, ge=0, le=1)
    #: How often the dedupe stage publishes its partial counts: the latency of counts
    #: versus a small record per petition and partition that moved. 0.1 s took ~0.1 s
    #: off the p99 of submit-to-visible at 1,000/s (docs/benchmarks.md, 2026-12-07).
    partials_interval_seconds: float = Field(default=0.1, gt=0, le=60)
    #: How often the aggregate publishes the totals that moved (and before every
    #: commit): each once per round, however many reports moved it. The dedupe stage's
    #: reports of one round arrive within milliseconds of each other, so a short round
    #: gathers them and adds little to the latency of counts.
    counts_interval_seconds: float = Field(default=0.02, gt=0, le=60)

    #: ``chdb://<dir>`` (embedded engine, one process) or ``http(s)://user:pass@host:port``;
    #: default: embedded, under the data directory.
    clickhouse_dsn: str | None = Field(default=None, repr=False)  # may hold a password
    clickhouse_database: str = Field(default="countersign", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    #: A ClickHouse cluster's name (its ``remote_servers`` entry): the migrations then
    #: make Replicated tables on every node and Distributed ones over them, ON CLUSTER
    #: (``sinks.clickhouse.cluster``). Empty: one server, or the embedded engine.
    clickhouse_cluster: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]*$")
    sink_batch_size: int = Field(default=5000, ge=1)
    #: A batch is written when it is full or this old: how long a count waits for the
    #: dashboard, against up to 1 / this inserts per second and table. A busy ClickHouse
    #: cluster may prefer 1 s (docs/scaling.md).
    sink_batch_seconds: float = Field(default=0.1, gt=0)
    #: How often ``countersign serve`` reads the sink's consumer lag in the background
    #: (``streams.core.sampling``): /metrics and /healthz show the latest reading.
    lag_sample_seconds: float = Field(default=5.0, gt=0, le=300)

    #: ``countersign serve`` and ``api``: the dashboard, the JSON API and the sink's
    #: metrics ...
    api_port: int = Field(default=6066, ge=1, le=65535)
    #: ... ``countersign sink`` alone: its /healthz and /metrics.
    sink_port: int = Field(default=6068, ge=1, le=65535)
    #: Where the audit tools reach ``countersign serve`` (default: this machine's
    #: ``api_port``).
    api_url: str | None = None
    #: Open server-sent-event streams (dashboard viewers) ``countersign serve`` keeps at
    #: once; the next is answered 503 with Retry-After. Viewers share one poller per
    #: petition, so ClickHouse does not limit them; each holds a socket and a queue, and
    #: past a few thousand a burst of reconnects would eat the file descriptors and the
    #: event loop that the API and the sink's health answer from
    #: (bench/README.md: 1,000 viewers measured).
    sse_max_connections: int = Field(default=2000, ge=1, le=1_000_000)
    #: Of those, one client may hold this many (a client is its network, counted as the
    #: intake counts it: ``intake_ipv4_prefix``/``intake_ipv6_prefix``, behind
    #: ``intake_trusted_proxies``); its next is answered 429 with Retry-After, so one
    #: host cannot take every stream and lock the other viewers out.
    sse_max_per_client: int = Field(default=20, ge=1, le=1_000_000)
    #: Connections ``countersign serve`` serves at once, the streams above among them;
    #: past it a new one is answered 503 and closed, as the intake's are ...
    serve_max_connections: int = Field(default=4096, ge=1, le=1_000_000)
    #: ... and a connection that idles, or sends no complete request head, is closed
    #: after this (aiohttp's default keeps an idle one for an hour).
    serve_keepalive_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    #: The bearer token of serve's /ops endpoints (audit data: names and hashes).
    ops_token: SecretStr = SecretStr(DEVELOPMENT_OPS_TOKEN)
    #: ``countersign worker``: its health and the agents' metrics.
    worker_port: int = Field(default=6067, ge=1, le=65535)
    #: Where the worker, the API and the intake listen; loopback unless told otherwise.
    bind_host: str = "127.0.0.1"

    intake_port: int = Field(default=8080, ge=1, le=65535)
    #: Signatures per client (see the prefixes below) and petition: ``count/seconds``
    #: windows, all enforced.
    intake_rate_limits: str = "1/60,5/300"
    #: Confirmation links a client may follow (``count/seconds`` windows, all enforced):
    #: each new claim costs serve a query and Kafka a record kept forever.
    intake_confirm_rate_limits: str = "10/60,100/3600"
    #: The rate limits count a client by its network: an IPv4 address is one client
    #: (/32), an IPv6 client by its /64, the smallest network a site is given (one
    #: host may use all of its 2^64 addresses).
    intake_ipv4_prefix: int = Field(default=32, ge=1, le=32)
    intake_ipv6_prefix: int = Field(default=64, ge=1, le=128)
    #: For how long an identical resend (same signature_id, petition and email) is
    #: answered from memory, without publishing again; 0 publishes every resend.
    intake_resend_window_seconds: float = Field(default=600.0, ge=0, le=86_400)
    #: At most this many submissions are remembered for that (the oldest go first).
    intake_resend_max_entries: int = Field(default=100_000, ge=1, le=10_000_000)
    #: Proxies (IPs or CIDR networks) whose ``X-Forwarded-For`` is believed.
    intake_trusted_proxies: str = ""
    #: Sites (``https://campaign.example``, comma-separated; ``*`` for all) whose pages
    #: may post to the intake from a browser (CORS, Origin check) and frame its
    #: ``?embed=1`` form. None by default: only the intake's own pages.
    intake_cors_origins: str = ""
    #: How long a rendered sign form's token is accepted (``streams.intake.formtoken``).
    intake_form_token_max_age_seconds: int = Field(default=4 * 3600, ge=1, le=7 * 86_400)
    #: Against slow clients (slowloris): a request body must arrive within this
    #: (408 otherwise; 16 KiB at most, so seconds are plenty) ...
    intake_body_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    #: ... a connection that sends no complete request head, or idles between
    #: requests, is closed after this (keep it above a proxy's upstream idle timeout) ...
    intake_keepalive_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    #: ... and past this many open connections a new one is answered 503 and closed.
    intake_max_connections: int = Field(default=1024, ge=1, le=1_000_000)
    #: Several intake processes on one port (SO_REUSEPORT: the kernel spreads the
    #: connections), a process per core. Off: a second intake on a taken port fails.
    intake_reuse_port: bool = False
    #: The surge detector (``streams.intake.surge``): signatures of a petition, or of
    #: one email domain for a petition, in the last window against the baseline
    #: before it; a surge is at least ``min_signatures`` and ``factor`` times the rate.
    #: Counted in buckets of ``bucket_seconds`` (a minute; the tests use a second).
    intake_surge_window_seconds: float = Field(default=300.0, ge=1, le=86_400)
    intake_surge_baseline_seconds: float = Field(default=3600.0, ge=1, le=7 * 86_400)
    intake_surge_bucket_seconds: float = Field(default=60.0, ge=1, le=3600)
    intake_surge_factor: float = Field(default=10.0, gt=1)
    intake_surge_min_signatures: int = Field(default=100, ge=1)
    #: The longest the intake holds a submission for others of the same partition to
    #: share one record with (``schemas.batch``); 0 sends each as a record of its own.
    intake_coalesce_ms: float = Field(default=100.0, ge=0, le=1000)
    #: Signatures a record aims at under load: the wait follows the partition's rate
    #: (``streams.publish.coalescing``), none when it is quiet; 1 never waits.
    intake_coalesce_target: int = Field(default=50, ge=1, le=1000)
    #: At most this many submissions share one record.
    intake_coalesce_max: int = Field(default=100, ge=1, le=1000)
    #: How long a request waits for Kafka's acknowledgement before it gives up.
    intake_delivery_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    #: Signs the links of confirmation mails and the sign form's token (itsdangerous,
    #: a salt per use).
    signing_key: SecretStr = SecretStr(DEVELOPMENT_SIGNING_KEY)
    #: The intake as signers reach it: the base of the links in confirmation mails
    #: (default: this machine's ``intake_port``).
    public_url: str | None = None
    #: How long a confirmation link works.
    confirmation_link_hours: float = Field(default=7 * 24, gt=0, le=24 * 365)
    #: Where confirmation mails go: ``smtp://host:port`` (STARTTLS when the server
    #: offers it), ``smtps://`` (TLS from the start), with ``user:password@`` if needed.
    #: Mailpit (``make run``) listens on 127.0.0.1:1025.
    smtp_url: SecretStr = SecretStr("smtp://127.0.0.1:1025")
    mail_from: str = "Countersign <no-reply@countersign.localhost>"
    #: The mailer sends this many mails, then commits: after a crash at most this many
    #: are sent again.
    mailer_batch: int = Field(default=20, ge=1, le=1000)
    #: SMTP connections a mailer keeps open and sends a batch over at once: a remote
    #: server answers each mail after several round trips, which one connection waits
    #: out one mail at a time. (More mailer processes share ``mail.outbox``'s partitions.)
    mailer_connections: int = Field(default=4, ge=1, le=64)
    #: A signer (email hash) who signs again while pending gets the mail again only
    #: this long after their last mail (re-signing must not be a way to bomb someone's
    #: inbox; kept on ``mail.history``, so across restarts) ...
    mail_resend_pause_seconds: float = Field(default=6 * 3600.0, ge=0)
    #: ... and gets at most this many resends in 24 hours (first mails always go).
    mail_resends_per_day: int = Field(default=3, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("intake_rate_limits")
    @classmethod
    def _rate_limits_can_be_enforced(cls, value: str) -> str:
        parse_rate_limits(value)
        return value

    @field_validator("intake_confirm_rate_limits")
    @classmethod
    def _confirm_rate_limits_can_be_enforced(cls, value: str) -> str:
        parse_rate_limits(value, "COUNTERSIGN_INTAKE_CONFIRM_RATE_LIMITS")
        return value

    @field_validator("intake_cors_origins")
    @classmethod
    def _cors_origins_are_origins(cls, value: str) -> str:
        for origin in (o.strip() for o in value.split(",")):
            if origin and origin != "*" and not ORIGIN.fullmatch(origin):
                raise ConfigurationError(
                    f"COUNTERSIGN_INTAKE_CORS_ORIGINS: {origin!r} is not an origin "
                    "(scheme://host[:port], e.g. https://campaign.example, or *)"
                )
        return value

    @model_validator(mode="after")
    def _secrets_fail_closed(self) -> Settings:
        """Every secret is long enough, and a public one never serves beyond this
        machine: refused at start, naming the setting and how to make one."""
        exposed = not self.binds_loopback_only or self.env == "production"
        where = (
            f"COUNTERSIGN_BIND_HOST={self.bind_host} listens beyond this machine"
            if not self.binds_loopback_only
            else "COUNTERSIGN_ENV=production"
        )
        secrets = [
            ("COUNTERSIGN_EMAIL_HASH_KEY", self.email_hash_key, DEVELOPMENT_EMAIL_HASH_KEY),
            ("COUNTERSIGN_SIGNING_KEY", self.signing_key, DEVELOPMENT_SIGNING_KEY),
            ("COUNTERSIGN_OPS_TOKEN", self.ops_token, DEVELOPMENT_OPS_TOKEN),
        ]
        for name, secret, development in secrets:
            value = secret.get_secret_value()
            if exposed and value == development:
                raise ConfigurationError(
                    f"{name} must be set to a secret of your own: {where}, and the "
                    f"development value is public (make one with: {MAKE_A_SECRET})"
                )
            _check_length(name, value.encode())
        previous = self.previous_hash_keys
        for key_id, key in previous:
            _check_length(f"COUNTERSIGN_EMAIL_HASH_PREVIOUS_KEYS (key {key_id})", key)
        previous_ids = [key_id for key_id, _ in previous]
        if self.email_hash_key_id in previous_ids or len(set(previous_ids)) < len(previous_ids):
            raise ConfigurationError(
                "COUNTERSIGN_EMAIL_HASH_PREVIOUS_KEYS: every key needs an id of its own, "
                f"other than the current COUNTERSIGN_EMAIL_HASH_KEY_ID ({self.email_hash_key_id})"
            )
        return self

    @property
    def master_secret(self) -> bytes:
        """The master key's secret: ``master_key_file``'s content (without its final
        newline) when one is named, else ``master_key``. Checked here, where it is
        used, not at start: the worker counts without it (docs/privacy.md), so it
        needs none of its own."""
        secret = self._master_secret_unchecked()
        exposed = not self.binds_loopback_only or self.env == "production"
        if exposed and secret == DEVELOPMENT_MASTER_KEY.encode():
            raise ConfigurationError(
                "COUNTERSIGN_MASTER_KEY (or COUNTERSIGN_MASTER_KEY_FILE) must be set to a "
                "secret of your own here: the development value is public "
                f"(make one with: {MAKE_A_SECRET})"
            )
        _check_length("COUNTERSIGN_MASTER_KEY", secret)
        return secret

    def _master_secret_unchecked(self) -> bytes:
        if self.master_key_file is None:
            return self.master_key.get_secret_value().encode()
        try:
            return self.master_key_file.read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise ConfigurationError(
                f"COUNTERSIGN_MASTER_KEY_FILE={self.master_key_file}: {exc.strerror}"
            ) from None

    @property
    def secret_values(self) -> list[str]:
        """Every secret this process knows, as text: what its logs must never show."""
        values = [
            self.email_hash_key.get_secret_value(),
            self.signing_key.get_secret_value(),
            self.ops_token.get_secret_value(),
        ]
        with contextlib.suppress(ConfigurationError):  # a process that never reads it
            values.append(self._master_secret_unchecked().decode("utf-8", "replace"))
        values += [key.decode() for _, key in self.previous_hash_keys]
        values += self.kafka_secret_values
        values += self.transparency_secret_values
        for url in (self.smtp_url.get_secret_value(), self.clickhouse_dsn or ""):
            password = urlsplit(url).password
            if password:
                values += [password, unquote(password)]
        return values

    @property
    def binds_loopback_only(self) -> bool:
        """Whether the processes listen on this machine only (``bind_host``)."""
        if self.bind_host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.bind_host).is_loopback
        except ValueError:  # a host name other than localhost: it may resolve anywhere
            return False

    @property
    def hash_key(self) -> bytes:
        """The email-hash key, as the rules take it."""
        return self.email_hash_key.get_secret_value().encode()

    @property
    def previous_hash_keys(self) -> list[tuple[str, bytes]]:
        """``email_hash_previous_keys`` as ``[(id, key), ...]``."""
        return parse_previous_keys(self.email_hash_previous_keys.get_secret_value())

    @property
    def clickhouse_target(self) -> str:
        if self.clickhouse_dsn:
            return self.clickhouse_dsn
        return f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    @property
    def public_base_url(self) -> str:
        return (self.public_url or f"http://127.0.0.1:{self.intake_port}").rstrip("/")

    @property
    def api_base_url(self) -> str:
        return (self.api_url or f"http://127.0.0.1:{self.api_port}").rstrip("/")

    @property
    def receipt_page_url(self) -> str:
        return self.transparency_receipt_url or f"{self.api_base_url}/receipt"

    @property
    def rate_limits(self) -> list[tuple[int, float]]:
        """``intake_rate_limits`` as ``[(count, seconds), ...]``."""
        return parse_rate_limits(self.intake_rate_limits)

    @property
    def confirm_rate_limits(self) -> list[tuple[int, float]]:
        """``intake_confirm_rate_limits`` as ``[(count, seconds), ...]``."""
        return parse_rate_limits(self.intake_confirm_rate_limits)

    @property
    def trusted_proxies(self) -> list[str]:
        return [p.strip() for p in self.intake_trusted_proxies.split(",") if p.strip()]

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.intake_cors_origins.split(",") if o.strip()]

    def topic(self, name: str) -> str:
        """The full name of one of docs/architecture.md's topics under this prefix."""
        return f"{self.topic_prefix}{name}"

    def group_id(self, role: str | None = None) -> str:
        """A consumer group of this pipeline: the Faust app's own (no ``role``) or one
        of its helpers'. Under the topic prefix, so two pipelines on one cluster (or
        two test runs) never share a group."""
        base = f"{self.topic_prefix}{self.app_id}"
        return base if role is None else f"{base}-{role}"
