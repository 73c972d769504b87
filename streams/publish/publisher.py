"""Producers that answer only once Kafka has the event: sync and asyncio flavours.

Both encode a ``Signature`` with the Avro codec, key it by petition_id and produce it
to ``signatures.submitted`` with the idempotent, ``acks=all`` producer of
``streams.kafka``. A call returns a ``Receipt`` (where the event now lives) after the
delivery report, or raises:

- ``KafkaBusy`` (with ``retry_after``): the event was *not* handed to Kafka (no broker
  is up, or the local queue is full); nothing was written;
- ``PublishFailed``: Kafka did not confirm in time. ``possibly_persisted`` tells
  whether a broker may have written it anyway; either way, resending the same
  signature_id is safe because a retried submission is counted once.

The asyncio flavour is our own thin bridge (delivery callbacks resolve futures on the
loop, one thread serves librdkafka's poll) rather than confluent-kafka's experimental
``AIOProducer``, which adds a Python-side buffer with a flush timer and hides the
queue-full condition that the intake must turn into a 503.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from schemas.codec import AvroCodec
from streams import kafka
from streams.errors import KafkaBusy, PublishFailed
from streams.publish.signature import Signature
from streams.settings import Settings
from streams.topics import SUBMITTED

log = logging.getLogger(__name__)

#: How long the producer keeps trying to deliver one event (librdkafka retries inside).
DEFAULT_DELIVERY_TIMEOUT = 10.0
#: What a client is told to wait when Kafka is down or full.
RETRY_AFTER_SECONDS = 5.0
#: Undelivered events the producer may hold before it answers "busy".
DEFAULT_QUEUE_LIMIT = 50_000


#: Delivery errors after which a broker may hold the event all the same: the request
#: may have reached it before the connection broke or the time ran out. (The
#: Python client does not expose librdkafka's per-message persistence status.)
IN_DOUBT = frozenset(
    {
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._PURGE_INFLIGHT,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    }
)


@dataclass(frozen=True)
class Receipt:
    """Where an acknowledged event lives in the audit log."""

    signature_id: str
    topic: str
    partition: int
    offset: int


class _Core:
    """What both flavours share: the producer, the codec, broker health."""

    def __init__(
        self,
        settings: Settings,
        *,
        delivery_timeout: float,
        queue_limit: int,
        producer_config: dict[str, Any] | None = None,
    ) -> None:
        self.topic = settings.topic(SUBMITTED.name)
        self.codec = AvroCodec("SignatureSubmitted")
        self.brokers_up = True
        self.producer: Producer = kafka.producer(
            settings,
            **{
                "message.timeout.ms": int(delivery_timeout * 1000),
                "queue.buffering.max.messages": queue_limit,
                "error_cb": self._on_error,
                "statistics.interval.ms": 1000,
                "stats_cb": self._on_stats,
                **(producer_config or {}),
            },
        )

    def _on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            if self.brokers_up:
                log.warning("all Kafka brokers are down: answering busy until one is back")
            self.brokers_up = False
        elif error.fatal():
            log.error("fatal producer error: %s", error)
        else:
            log.info("producer: %s", error)

    def _on_stats(self, stats_json: str) -> None:
        stats = json.loads(stats_json)
        up = any(
            broker.get("state") == "UP" and broker.get("nodeid", -1) >= 0
            for broker in stats.get("brokers", {}).values()
        )
        if up and not self.brokers_up:
            log.warning("a Kafka broker is up again: taking events")
        self.brokers_up = up or (self.brokers_up and not stats.get("brokers"))

    def encode(self, signature: Signature) -> tuple[bytes, bytes]:
        return signature.petition_id.encode(), self.codec.encode(signature.to_record())

    def ensure_up(self) -> None:
        if not self.brokers_up:
            raise KafkaBusy("no Kafka broker is reachable", RETRY_AFTER_SECONDS)

    def produce(self, signature: Signature, on_delivery: Any) -> None:
        self.ensure_up()
        key, value = self.encode(signature)
        try:
            self.producer.produce(self.topic, value, key, on_delivery=on_delivery)
        except BufferError:
            raise KafkaBusy(
                f"the producer queue is full ({len(self.producer)} events waiting)",
                RETRY_AFTER_SECONDS,
            ) from None
        except KafkaException as exc:
            raise PublishFailed(f"Kafka refused the event: {exc}") from exc

    def outcome(self, signature: Signature, error: KafkaError | None, message: Message) -> Receipt:
        if error is None:
            partition, offset = message.partition(), message.offset()
            assert partition is not None and offset is not None
            return Receipt(signature.signature_id, self.topic, partition, offset)
        raise PublishFailed(
            f"Kafka did not acknowledge signature {signature.signature_id}: {error.str()}",
            possibly_persisted=error.code() in IN_DOUBT,
        )


class Publisher:
    """Blocking publisher for scripts and WSGI backends; thread-safe.

    ``attempts``: how often one ``publish`` sends the event before it gives up (each
    attempt already includes librdkafka's own retries for ``delivery_timeout``).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        delivery_timeout: float = DEFAULT_DELIVERY_TIMEOUT,
        attempts: int = 3,
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
        producer_config: dict[str, Any] | None = None,
    ) -> None:
        self._core = _Core(
            settings,
            delivery_timeout=delivery_timeout,
            queue_limit=queue_limit,
            producer_config=producer_config,
        )
        self.attempts = attempts

    def publish(self, signature: Signature) -> Receipt:
        for attempt in range(1, self.attempts + 1):
            try:
                return self._publish_once(signature)
            except (KafkaBusy, PublishFailed) as exc:
                if attempt == self.attempts:
                    raise
                wait = getattr(exc, "retry_after", 1.0)
                log.warning("attempt %d failed (%s); retrying in %g s", attempt, exc, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _publish_once(self, signature: Signature) -> Receipt:
        done = threading.Event()
        report: list[tuple[KafkaError | None, Message]] = []

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            report.append((error, message))
            done.set()

        self._core.brokers_up = True  # a blocking caller may always try
        self._core.produce(signature, on_delivery)
        while not done.is_set():
            self._core.producer.poll(0.1)
        return self._core.outcome(signature, *report[0])

    def close(self, timeout: float = 30.0) -> int:
        """Flush; returns how many events Kafka did not take."""
        remaining: int = self._core.producer.flush(timeout)
        return remaining

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class AsyncPublisher:
    """Non-blocking publisher for asyncio services (the intake): many events in flight
    at once, each ``await publish()`` resolved by its own delivery report.

    Fails fast with ``KafkaBusy`` while no broker is up, instead of queueing events
    that would only time out; a probe notices when a broker is back.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        delivery_timeout: float = DEFAULT_DELIVERY_TIMEOUT,
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
        producer_config: dict[str, Any] | None = None,
    ) -> None:
        self._core = _Core(
            settings,
            delivery_timeout=delivery_timeout,
            queue_limit=queue_limit,
            producer_config=producer_config,
        )
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="kafka-poll", daemon=True)
        self._poller.start()

    @property
    def topic(self) -> str:
        return self._core.topic

    @property
    def brokers_up(self) -> bool:
        return self._core.brokers_up

    @property
    def in_flight(self) -> int:
        return len(self._core.producer)

    def _poll(self) -> None:
        """Serve delivery reports; while brokers are down, probe with a metadata request
        (a producer with nothing queued would not reconnect on its own)."""
        while not self._stop.is_set():
            self._core.producer.poll(0.1)
            if not self._core.brokers_up:
                try:
                    self._core.producer.list_topics(self._core.topic, timeout=1.0)
                except KafkaException:
                    continue
                log.warning("Kafka answers again: taking events")
                self._core.brokers_up = True

    async def publish(self, signature: Signature) -> Receipt:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Receipt] = loop.create_future()

        def settle(error: KafkaError | None, message: Message) -> None:
            try:
                result = self._core.outcome(signature, error, message)
            except PublishFailed as exc:
                loop.call_soon_threadsafe(_fail, future, exc)
            else:
                loop.call_soon_threadsafe(_succeed, future, result)

        self._core.produce(signature, settle)
        return await future

    async def close(self, timeout: float = 30.0) -> int:
        """Deliver what is in flight (graceful shutdown), then stop the poll thread."""
        remaining: int = await asyncio.to_thread(self._core.producer.flush, timeout)
        self._stop.set()
        await asyncio.to_thread(self._poller.join, 5)
        return remaining


def _succeed(future: asyncio.Future[Receipt], receipt: Receipt) -> None:
    if not future.done():
        future.set_result(receipt)


def _fail(future: asyncio.Future[Receipt], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
