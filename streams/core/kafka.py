"""confluent-kafka clients configured one way for every tool.

librdkafka's own log lines go through Python logging (logger ``librdkafka``) rather
than straight to stderr, and "cannot reach the cluster" becomes one typed error
instead of a flood of connection-refused lines. Every client gets the TLS and SASL
settings (``streams.core.kafka_security``); a broker that refuses our credentials is
an error that names the listener and the login, at once, not a wait for a timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ClusterMetadata, OffsetSpec

from streams.core.errors import KafkaAuthenticationFailed, KafkaUnavailable
from streams.core.kafka_security import librdkafka_config
from streams.core.redact import redact_dsn
from streams.core.settings import Settings

log = logging.getLogger(__name__)
librdkafka_log = logging.getLogger("librdkafka")


def _is_refusal(error: KafkaError) -> bool:
    """Whether librdkafka says our credentials were refused: a SASL login, or a TLS
    handshake (our CA does not know the broker's certificate, or the broker turned
    ours down or missed one: an alert that librdkafka reports as a failed receive)."""
    if error.code() in (KafkaError._AUTHENTICATION, KafkaError._SSL):
        return True
    text = error.str()
    return error.code() == KafkaError._TRANSPORT and "SSL" in text and "certificate" in text


class _AuthenticationFailures:
    """The last refusal of our credentials, per bootstrap list, that a client's error
    callback reported (librdkafka reports it there, and a metadata request then only
    says "transport failure")."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, str] = {}

    def record(self, servers: str, error: KafkaError) -> None:
        with self._lock:
            first = servers not in self._last
            self._last[servers] = error.str()
        if first:  # a client retries every few seconds: say it once
            log.error("Kafka refused our credentials: %s", error.str())

    def take(self, servers: str) -> str | None:
        with self._lock:
            return self._last.pop(servers, None)


authentication_failures = _AuthenticationFailures()


def _base_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """A client's configuration: ``overrides`` win, except that an ``error_cb`` of
    theirs is called after ours (which records a refused login)."""
    servers = settings.kafka_bootstrap_servers
    their_error_cb = overrides.pop("error_cb", None)

    def on_error(error: KafkaError) -> None:
        refused = _is_refusal(error)
        if refused:
            authentication_failures.record(servers, error)
        if their_error_cb is not None:
            their_error_cb(error)
        elif not refused:
            librdkafka_log.info("%s", error.str())

    return {
        "bootstrap.servers": servers,
        "logger": librdkafka_log,
        "log.connection.close": False,
        "error_cb": on_error,
        **librdkafka_config(settings),
        **overrides,
    }


def admin_client(settings: Settings) -> AdminClient:
    return AdminClient(_base_config(settings))


#: Seen here (a surge into a partition created a moment before; debug log in
#: docs/exactly-once.md): request R1 (sequence 0) was refused "Not leader for
#: partition", which librdkafka itself marks not persisted; R2, already in flight
#: behind it, was accepted, because a broker takes any first sequence from a producer
#: it has no state for; librdkafka then "implicitly acked" R1's record as delivered
#: (no offset) and never resent it. The signature was answered 202 and was not on
#: Kafka. Known upstream (confluent-kafka-go#921, open). With one request in flight
#: R2 leaves only after R1's answer, so R1 is resent first.
SINGLE_REQUEST_IN_FLIGHT = {"max.in.flight.requests.per.connection": 1}


def delivery_failure(error: KafkaError | None, message: Message) -> str | None:
    """Why a delivery report does not prove the record is on Kafka; None when it does.
    Only a report with an offset is proof: "delivered" without one is unproven
    (librdkafka's implicit acknowledgement once said so of a record the broker had
    refused: ``SINGLE_REQUEST_IN_FLIGHT``)."""
    if error is not None:
        return str(error.str())
    if message.offset() is None:
        return "reported delivered without an offset: unproven"
    return None


def failures_into(failures: list[str]) -> Callable[[KafkaError | None, Message], None]:
    """A delivery callback that appends each report's ``delivery_failure`` to
    ``failures`` (the caller flushes, then looks)."""

    def on_delivery(error: KafkaError | None, message: Message) -> None:
        failure = delivery_failure(error, message)
        if failure is not None:
            failures.append(failure)

    return on_delivery


def producer(settings: Settings, **overrides: Any) -> Producer:
    """An idempotent, acks=all producer: a delivery report means the record is on
    every in-sync replica and a retry never writes it twice. Keys are partitioned with
    murmur2 like the Java client and aiokafka (Faust), not librdkafka's CRC32 default,
    so a key lands on the same partition whichever client wrote it.

    One produce request in flight per broker (``SINGLE_REQUEST_IN_FLIGHT``): with
    more, librdkafka 2.16 reported a record that was never written as delivered.
    """
    producer = Producer(
        _base_config(
            settings,
            **{
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "partitioner": "murmur2_random",
                **overrides,
                **SINGLE_REQUEST_IN_FLIGHT,  # after the overrides: not theirs to undo
            },
        )
    )
    _connect(producer)
    return producer


#: How long a new producer waits for its first metadata answer (``_connect``).
CONNECT_SECONDS = 2.0


def _connect(producer: Producer) -> None:
    """Ask for metadata once, so that the idempotent producer gets its producer id now.

    Measured on librdkafka 2.16: a fresh idempotent producer's first delivery took
    0.50 s, every time (a non-idempotent one's 1-54 ms; apparently the id request waits
    for a 500 ms retry when no connection is up yet); after one metadata answer
    (60-100 ms) it took 1 ms. A short-lived publisher (``petitions add``, a
    moderation, a test's setup) pays that on every run. If no broker answers within
    ``CONNECT_SECONDS`` we go on: the producer connects by itself, and its sends
    report what went wrong.
    """
    try:
        producer.list_topics(timeout=CONNECT_SECONDS)
    except KafkaException as exc:
        log.info("no metadata within %g s (%s); the producer connects later", CONNECT_SECONDS, exc)


def consumer(settings: Settings, group_id: str, **overrides: Any) -> Consumer:
    return Consumer(
        _base_config(
            settings,
            **{
                "group.id": group_id,
                "session.timeout.ms": int(settings.consumer_session_timeout_seconds * 1000),
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                **overrides,
            },
        )
    )


def _login_hint(refusal: str) -> str:
    """Which settings to check for a refusal librdkafka described as ``refusal``."""
    if "SSL" in refusal:
        return (
            "Check COUNTERSIGN_KAFKA_SSL_CA_FILE (the CA that signed the brokers), and "
            "COUNTERSIGN_KAFKA_SSL_CERT_FILE and _KEY_FILE where the listener asks for a "
            "client certificate"
        )
    return (
        "Check COUNTERSIGN_KAFKA_SASL_USERNAME and the password "
        "(COUNTERSIGN_KAFKA_SASL_PASSWORD or _FILE)"
    )


def cluster_metadata(admin: AdminClient, settings: Settings, timeout: float) -> ClusterMetadata:
    """Metadata, or ``KafkaUnavailable`` naming the servers we tried
    (``KafkaAuthenticationFailed`` within a second when they refuse our login).

    Asked in short rounds because the refusal reaches the error callback, which
    librdkafka serves only between calls (``poll``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return admin.list_topics(timeout=max(0.1, min(1.0, deadline - time.monotonic())))
        except KafkaException as exc:
            admin.poll(0)
            refusal = authentication_failures.take(settings.kafka_bootstrap_servers)
            if refusal is not None:
                raise KafkaAuthenticationFailed(
                    f"Kafka at {redact_dsn(settings.kafka_bootstrap_servers)} refused our login "
                    f"({settings.describe_kafka_login()}): {refusal}. {_login_hint(refusal)}"
                ) from exc
            if time.monotonic() >= deadline:
                raise KafkaUnavailable(
                    f"no Kafka broker answered at {redact_dsn(settings.kafka_bootstrap_servers)}"
                    f" ({settings.describe_kafka_login()}) within {timeout:g} s "
                    "(is it running? `make kafka-up` starts one)"
                ) from exc


def group_lag(settings: Settings, group_id: str, topics: list[str], timeout: float = 5.0) -> int:
    """Records on ``topics`` that ``group_id`` has not committed yet (its consumer lag).

    Uses a consumer that never joins the group: it only reads committed offsets and
    high-water marks, so it can run beside the group's own members.
    """
    admin = admin_client(settings)
    metadata = cluster_metadata(admin, settings, timeout).topics
    partitions = [
        TopicPartition(topic, partition)
        for topic in topics
        if topic in metadata
        for partition in metadata[topic].partitions
    ]
    reader = consumer(settings, group_id=group_id)
    try:
        committed = reader.committed(partitions, timeout=timeout)
        lag = 0
        for tp in committed:
            low, high = watermarks(reader, tp, timeout)
            lag += high - (tp.offset if tp.offset >= 0 else low)
        return lag
    finally:
        reader.close()


#: What a partition answers while it has no leader yet (a topic created a moment ago).
LEADER_MOVING = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
    }
)


def watermarks(reader: Consumer, tp: TopicPartition, timeout: float) -> tuple[int, int]:
    """A partition's low and high offsets, asked again while the broker answers with a
    retriable error (a topic created a moment ago has no leader yet: NOT_LEADER or
    LEADER_NOT_AVAILABLE for a short while) until ``timeout`` has passed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            low, high = reader.get_watermark_offsets(tp, timeout=timeout)
            return int(low), int(high)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            retriable = isinstance(error, KafkaError) and (
                error.retriable() or error.code() in LEADER_MOVING
            )
            if not retriable or time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def partition_ends(
    admin: AdminClient, topic: str, partitions: list[int], timeout: float
) -> dict[int, tuple[int, int]]:
    """Each partition's low and high offsets, in two requests for all of them on the
    admin client's own connection. A consumer's ``get_watermark_offsets`` asks once a
    partition, on the connection where its fetch waits for records, so each answer
    queued behind that wait (``fetch.wait.max.ms``): 0.5 s for 6 partitions, measured
    on the catalogue's follower (docs/benchmarks.md, 2026-12-07, the worker's stalls)."""
    if not partitions:
        return {}
    asked = [TopicPartition(topic, p) for p in partitions]
    earliest, latest = OffsetSpec.earliest(), OffsetSpec.latest()  # type: ignore[no-untyped-call]
    lows = admin.list_offsets(dict.fromkeys(asked, earliest), request_timeout=timeout)
    highs = admin.list_offsets(dict.fromkeys(asked, latest), request_timeout=timeout)
    return {
        tp.partition: (lows[tp].result().offset, highs[tp].result().offset)
        for tp in sorted(lows, key=lambda tp: tp.partition)
    }


def produce_waiting(
    producer: Producer, topic: str, value: bytes | None, key: bytes | None, **options: Any
) -> None:
    """Hand one record to ``producer``, waiting while its local queue is full: the
    backpressure of a bulk writer (a copy, a feed, a batch of events), which would
    rather wait than fail."""
    while True:
        try:
            producer.produce(topic, value, key, **options)
            break
        except BufferError:
            producer.poll(0.1)
    producer.poll(0)
