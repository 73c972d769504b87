"""Producers that answer only once Kafka has the event: sync and asyncio flavours.

Both encode a ``Signature`` with the Avro codec, key it ``petition_id/bucket``
(``rules.keys.submission_key_for``: one signer's resends share a partition, a
popular petition spreads over all of them) and produce it
to ``signatures.submitted`` with the idempotent, ``acks=all`` producer of
``streams.core.kafka``. A call returns a ``Receipt`` (where the event now lives) after the
delivery report, or raises:

- ``KafkaBusy`` (with ``retry_after``): the event was *not* handed to Kafka (no broker
  is up, or the local queue is full); nothing was written;
- ``PublishFailed``: Kafka did not confirm in time. ``possibly_persisted`` tells
  whether a broker may have written it anyway; either way, resending the same
  signature_id is safe because a retried submission is counted once.

The asyncio flavour can also **coalesce**: submissions that arrive within a few
milliseconds of each other for the same partition travel as one record
(``schemas.batch``), each answered with its own place in it (offset and index) after
that record's delivery report. The worker's cost is per record far more than per
signature (docs/benchmarks.md), so this is what lets it keep up with a surge.

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
from typing import Any, cast

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from schemas.batch import encode_batch
from schemas.codec import AvroCodec
from streams.core import kafka
from streams.core.errors import KafkaBusy, PublishFailed
from streams.core.settings import Settings
from streams.core.topicspecs import SUBMITTED
from streams.publish.coalescing import AdaptiveWait
from streams.publish.sealer import Sealer
from streams.publish.signature import Signature
from streams.rules.keys import submission_key_for
from streams.rules.placement import home_partition

log = logging.getLogger(__name__)

#: How long the producer keeps trying to deliver one event (librdkafka retries inside).
DEFAULT_DELIVERY_TIMEOUT = 10.0
#: What a client is told to wait when Kafka is down or full.
RETRY_AFTER_SECONDS = 5.0
#: Undelivered events the producer may hold before it answers "busy".
DEFAULT_QUEUE_LIMIT = 50_000
#: A coalesced record stays well under the producer's 1 MB message limit.
MAX_BATCH_BYTES = 512 * 1024


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


def in_doubt(error: KafkaError | None) -> bool:
    """Whether Kafka may hold a record whose delivery report is a failure: an
    unproven "delivered" (``kafka.delivery_failure``), or an ``IN_DOUBT`` error."""
    return error is None or error.code() in IN_DOUBT


@dataclass(frozen=True)
class Receipt:
    """Where an acknowledged event lives in the audit log: ``index`` is its place in a
    record that carries several (0 for a record of its own). Only a delivery report
    that names its offset makes a receipt (``_outcome``)."""

    signature_id: str
    topic: str
    partition: int
    offset: int
    index: int = 0


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
        sealer: Sealer | None = None,
    ) -> None:
        self.topic = settings.topic(SUBMITTED.name)
        self.codec = AvroCodec("SignatureSubmitted")
        #: Seals each signer's personal data before it is sent (docs/privacy.md);
        #: None: sent in clear.
        self.sealer = sealer
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

    def _produce(self, signature: Signature, value: bytes, on_delivery: Any) -> None:
        self._produce_raw(
            submission_key_for(signature.petition_id, signature.email), value, on_delivery
        )

    def _produce_raw(
        self, key: bytes | None, value: bytes, on_delivery: Any, partition: int | None = None
    ) -> None:
        try:
            self.producer.produce(
                self.topic,
                value,
                key,
                # -1: librdkafka's "unassigned", its partitioner decides.
                partition=-1 if partition is None else partition,
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
        self, signature: Signature, error: KafkaError | None, message: Message, index: int = 0
    ) -> Receipt | PublishFailed:
        failure = kafka.delivery_failure(error, message)
        if failure is None:
            partition, offset = cast(int, message.partition()), cast(int, message.offset())
            return Receipt(signature.signature_id, self.topic, partition, offset, index)
        # Without an error, an implicit acknowledgement: not a proof, so the caller
        # resends (``streams.core.kafka.SINGLE_REQUEST_IN_FLIGHT``); counted once.
        return PublishFailed(
            f"Kafka did not acknowledge signature {signature.signature_id}: {failure}",
            possibly_persisted=in_doubt(error),
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

        record = signature.to_record()
        if self.sealer is not None:
            record = self.sealer.seal_blocking(record)
        self._produce(signature, self.codec.encode(record), on_delivery)
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


@dataclass
class _OpenBatch:
    """Submissions waiting to share a record of one partition."""

    items: list[tuple[bytes, bytes, Signature, asyncio.Future[Receipt]]]
    size: int
    timer: asyncio.TimerHandle | None  # None: shipped as soon as it is opened


class AsyncPublisher(_Publisher):
    """Non-blocking publisher for asyncio services (the intake): many events in flight
    at once, each ``await publish()`` resolved by its own delivery report.

    Fails fast with ``KafkaBusy`` while no broker is up, instead of queueing events
    that would only time out; a probe notices when a broker is back.

    One thread serves librdkafka's delivery reports; every answer depends on it. It
    is supervised: if it dies (a callback raised, a bug), ``delivering`` turns False
    (the intake's /healthz fails on it), every later ``publish`` is refused with
    ``KafkaBusy`` (503), events still waiting to be coalesced are refused the same
    way, and events already handed to Kafka fail with ``PublishFailed`` marked
    ``possibly_persisted`` (Kafka may hold them; a resend is counted once) instead
    of waiting for a report nobody will serve.

    ``coalesce_seconds`` > 0: a submission waits at most that long for others of the
    same partition (at most ``coalesce_max`` per record) and they are sent as one
    record; the partition is the one Kafka's partitioner would give the submission on
    its own (``rules.placement``), so every signer's order is kept. With
    ``coalesce_target`` the wait adapts to the partition's rate (``AdaptiveWait``):
    none when it is quiet, about ``coalesce_target`` signatures' worth at a surge;
    without, every record waits ``coalesce_seconds``.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        coalesce_seconds: float = 0.0,
        coalesce_max: int = 100,
        coalesce_target: int | None = None,
        **options: Any,
    ) -> None:
        if coalesce_seconds > 0:
            # The submissions already waited for each other: librdkafka need not wait too.
            options["producer_config"] = {"linger.ms": 0, **options.get("producer_config", {})}
        super().__init__(settings, **options)
        self.partitions = settings.topic_partitions
        self.coalesce_seconds = coalesce_seconds
        self.coalesce_max = coalesce_max
        self.waits = (
            None
            if coalesce_target is None or coalesce_seconds <= 0
            else AdaptiveWait(target=coalesce_target, max_wait=coalesce_seconds)
        )
        self._open: dict[int, _OpenBatch] = {}
        #: Futures of events handed to the producer, until their report settles them.
        self._handed: set[asyncio.Future[Any]] = set()
        #: The loop the futures belong to (set by ``publish``), for the supervisor.
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Why the delivery thread died; None while it serves (or was stopped by close).
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._supervise, name="kafka-poll", daemon=True)
        self._poller.start()

    @property
    def delivering(self) -> bool:
        """Whether delivery reports are served, i.e. whether a publish can be answered."""
        return self.failure is None and self._poller.is_alive()

    def _supervise(self) -> None:
        """Run the poll loop; if it dies, refuse what cannot be answered any more."""
        try:
            self._poll()
        except BaseException as exc:
            self.failure = exc
            log.critical(
                "the Kafka delivery thread died: no acknowledgement can be heard; refusing "
                "signatures (503) until this process is restarted",
                exc_info=exc,
            )
            loop = self._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._refuse_waiting)

    def _refuse_waiting(self) -> None:
        """On the loop, once the delivery thread is dead: answer every waiting future."""
        for partition in list(self._open):
            self._ship(partition)  # refused, as the thread is dead
        for future in list(self._handed):
            if not future.done():
                future.set_exception(
                    PublishFailed(
                        "Kafka's acknowledgement can no longer be heard (the delivery thread "
                        "stopped); Kafka may hold the signature",
                        possibly_persisted=True,
                    )
                )

    def _dead(self) -> KafkaBusy:
        return KafkaBusy(
            f"the Kafka delivery thread stopped ({self.failure!r}); this process must be restarted",
            RETRY_AFTER_SECONDS,
        )

    def _refusal(self) -> KafkaBusy | None:
        """Why no event can be taken now, or None."""
        if self.failure is not None:
            return self._dead()
        if not self.brokers_up:
            return KafkaBusy("no Kafka broker is reachable", RETRY_AFTER_SECONDS)
        return None

    def _handed_over(self, future: asyncio.Future[Any]) -> None:
        self._handed.add(future)
        future.add_done_callback(self._handed.discard)

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
        loop = self._loop = asyncio.get_running_loop()  # before the check: see _supervise
        refusal = self._refusal()
        if refusal is not None:
            raise refusal
        record = signature.to_record()
        if self.sealer is not None:
            record = await self.sealer.seal(record, loop)
            refusal = self._refusal()  # Kafka may have gone while the key was written
            if refusal is not None:
                raise refusal
        value = self.codec.encode(record)
        future: asyncio.Future[Receipt] = loop.create_future()
        if self.coalesce_seconds <= 0:

            def settle(error: KafkaError | None, message: Message) -> None:
                outcome = self._outcome(signature, error, message)
                loop.call_soon_threadsafe(_resolve, future, outcome)

            self._produce(signature, value, settle)
            self._handed_over(future)
        else:
            self._coalesce(signature, value, future, loop)
        return await future

    def _coalesce(
        self,
        signature: Signature,
        value: bytes,
        future: asyncio.Future[Receipt],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        key = submission_key_for(signature.petition_id, signature.email)
        partition = home_partition(key, self.partitions)
        wait = (
            self.coalesce_seconds
            if self.waits is None
            else self.waits.arrival(partition, loop.time())
        )
        batch = self._open.get(partition)
        if batch is not None and batch.size + len(value) > MAX_BATCH_BYTES:
            self._ship(partition)
            batch = None
        if batch is None:
            if wait <= 0:  # a quiet partition: nobody to wait for, out at once
                self._open[partition] = _OpenBatch([(key, value, signature, future)], 0, None)
                self._ship(partition)
                return
            timer = loop.call_later(wait, self._ship, partition)
            batch = self._open[partition] = _OpenBatch([], 0, timer)
        batch.items.append((key, value, signature, future))
        batch.size += len(value)
        if len(batch.items) >= self.coalesce_max:
            self._ship(partition)

    def _ship(self, partition: int) -> None:
        """Produce one partition's waiting submissions: as a record of its own when
        alone, else as one SignatureBatch record."""
        batch = self._open.pop(partition, None)
        if batch is None:
            return
        if batch.timer is not None:
            batch.timer.cancel()
        items = batch.items
        if self.failure is not None:  # nobody would hear Kafka's answer: not sent
            for *_, future in items:
                if not future.done():
                    future.set_exception(self._dead())
            return
        loop = items[0][3].get_loop()

        def settle(error: KafkaError | None, message: Message) -> None:
            outcomes = [
                (future, self._outcome(signature, error, message, index))
                for index, (_, _, signature, future) in enumerate(items)
            ]
            loop.call_soon_threadsafe(_resolve_all, outcomes)

        if len(items) == 1:
            key, value = items[0][:2]
        else:
            key, value = None, encode_batch([(key, value) for key, value, _, _ in items])
        try:
            self._produce_raw(key, value, settle, partition=partition)
        except (KafkaBusy, PublishFailed) as exc:
            for *_, future in items:
                if not future.done():
                    future.set_exception(exc)
            return
        for *_, future in items:
            self._handed_over(future)

    async def send_record(self, topic: str, key: bytes, value: bytes, partition: int) -> None:
        """Put one record of our own on ``topic`` (a confirmation: the intake's other
        event) and return once Kafka acknowledged it; ``PublishFailed`` or
        ``KafkaBusy`` as for ``publish``."""
        loop = self._loop = asyncio.get_running_loop()
        refusal = self._refusal()
        if refusal is not None:
            raise refusal
        future: asyncio.Future[None] = loop.create_future()

        def settle(error: KafkaError | None, message: Message) -> None:
            failure = kafka.delivery_failure(error, message)
            if failure is None:
                loop.call_soon_threadsafe(_settle_none, future, None)
                return
            failed = PublishFailed(
                f"Kafka did not acknowledge the record on {topic}: {failure}",
                possibly_persisted=in_doubt(error),
            )
            loop.call_soon_threadsafe(_settle_none, future, failed)

        try:
            self.producer.produce(topic, value, key, partition=partition, on_delivery=settle)
        except BufferError:
            raise KafkaBusy("the producer queue is full", RETRY_AFTER_SECONDS) from None
        except KafkaException as exc:
            raise PublishFailed(f"Kafka refused the record: {exc}") from exc
        # Answered by the supervisor too, should the delivery thread die meanwhile.
        self._handed_over(future)
        await future

    async def close(self, timeout: float = 30.0) -> int:
        """Deliver what is in flight (graceful shutdown), then stop the poll thread."""
        for partition in list(self._open):
            self._ship(partition)
        remaining: int = await asyncio.to_thread(self.producer.flush, timeout)
        self._stop.set()
        await asyncio.to_thread(self._poller.join, 5)
        return remaining


def _settle_none(future: asyncio.Future[None], failure: PublishFailed | None) -> None:
    if future.done():
        return
    if failure is None:
        future.set_result(None)
    else:
        future.set_exception(failure)


def _resolve_all(outcomes: list[tuple[asyncio.Future[Receipt], Receipt | PublishFailed]]) -> None:
    for future, outcome in outcomes:
        _resolve(future, outcome)


def _resolve(future: asyncio.Future[Receipt], outcome: Receipt | PublishFailed) -> None:
    if future.done():
        return
    if isinstance(outcome, PublishFailed):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
