"""Producers that answer only once Kafka has the event: sync and asyncio flavours.

Both encode a ``Signature`` with the Avro codec, key it ``petition_id/bucket``
(``rules.keys.submission_key_for``: one signer's resends share a partition, a
popular petition spreads over all of them) and produce it
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
from streams.rules.keys import submission_key_for
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


class _Publisher:
    """What both flavours share: the producer, the codec, and whether a broker is up
    (librdkafka reports "all brokers down"; the asyncio flavour probes for the return).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        delivery_timeout: float = DEFAULT_DELIVERY_TIMEOUT,
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
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
                **(producer_config or {}),
            },
        )

    @property
    def in_flight(self) -> int:
        return len(self.producer)

    def _on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            if self.brokers_up:
                log.warning("all Kafka brokers are down: answering busy until one is back")
            self.brokers_up = False
        elif error.fatal():
            log.error("fatal producer error: %s", error)
        else:
            log.info("producer: %s", error)

    def _produce(self, signature: Signature, on_delivery: Any) -> None:
        value = self.codec.encode(signature.to_record())
        try:
            self.producer.produce(
                self.topic,
                value,
                submission_key_for(signature.petition_id, signature.email),
                on_delivery=on_delivery,
            )
        except BufferError:
            raise KafkaBusy(
                f"the producer queue is full ({len(self.producer)} events waiting)",
                RETRY_AFTER_SECONDS,
            ) from None
        except KafkaException as exc:
            raise PublishFailed(f"Kafka refused the event: {exc}") from exc

    def _outcome(
        self, signature: Signature, error: KafkaError | None, message: Message
    ) -> Receipt | PublishFailed:
        if error is None:
            partition, offset = message.partition(), message.offset()
            assert partition is not None and offset is not None
            return Receipt(signature.signature_id, self.topic, partition, offset)
        return PublishFailed(
            f"Kafka did not acknowledge signature {signature.signature_id}: {error.str()}",
            possibly_persisted=error.code() in IN_DOUBT,
        )


class Publisher(_Publisher):
    """Blocking publisher for scripts and WSGI backends; thread-safe.

    ``attempts``: how often one ``publish`` sends the event before it gives up (each
    attempt already includes librdkafka's own retries for ``delivery_timeout``). A
    blocking caller always tries: there is no fast "brokers down" refusal here.
    """

    def __init__(self, settings: Settings, *, attempts: int = 3, **options: Any) -> None:
        super().__init__(settings, **options)
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
        outcome: list[Receipt | PublishFailed] = []

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            outcome.append(self._outcome(signature, error, message))
            done.set()

        self._produce(signature, on_delivery)
        while not done.is_set():
            self.producer.poll(0.1)
        if isinstance(outcome[0], PublishFailed):
            raise outcome[0]
        return outcome[0]

    def close(self, timeout: float = 30.0) -> int:
        """Flush; returns how many events Kafka did not take."""
        remaining: int = self.producer.flush(timeout)
        return remaining

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class AsyncPublisher(_Publisher):
    """Non-blocking publisher for asyncio services (the intake): many events in flight
    at once, each ``await publish()`` resolved by its own delivery report.

    Fails fast with ``KafkaBusy`` while no broker is up, instead of queueing events
    that would only time out; a probe notices when a broker is back.
    """

    def __init__(self, settings: Settings, **options: Any) -> None:
        super().__init__(settings, **options)
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="kafka-poll", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        """Serve delivery reports; while brokers are down, probe with a metadata request
        (a producer with nothing queued would not reconnect on its own)."""
        while not self._stop.is_set():
            self.producer.poll(0.1)
            if not self.brokers_up:
                try:
                    self.producer.list_topics(self.topic, timeout=1.0)
                except KafkaException:
                    continue
                log.warning("Kafka answers again: taking events")
                self.brokers_up = True

    async def publish(self, signature: Signature) -> Receipt:
        if not self.brokers_up:
            raise KafkaBusy("no Kafka broker is reachable", RETRY_AFTER_SECONDS)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Receipt] = loop.create_future()

        def settle(error: KafkaError | None, message: Message) -> None:
            loop.call_soon_threadsafe(_resolve, future, self._outcome(signature, error, message))

        self._produce(signature, settle)
        return await future

    async def close(self, timeout: float = 30.0) -> int:
        """Deliver what is in flight (graceful shutdown), then stop the poll thread."""
        remaining: int = await asyncio.to_thread(self.producer.flush, timeout)
        self._stop.set()
        await asyncio.to_thread(self._poller.join, 5)
        return remaining


def _resolve(future: asyncio.Future[Receipt], outcome: Receipt | PublishFailed) -> None:
    if future.done():
        return
    if isinstance(outcome, PublishFailed):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
