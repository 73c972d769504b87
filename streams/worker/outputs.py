"""The worker's outputs (verdicts, mails to send, partial and regional counts) go to
Kafka through librdkafka (confluent-kafka, idempotent, acks=all), not through Faust's
aiokafka producer: a few microseconds a record in C instead of ~40 µs of Python
(docs/benchmarks.md). The dedupe table's changelog records go through it too
(``streams.worker.engine.tables.WritesPerRecord``, ``tracked``: their delivered offsets
become the store's persisted offsets), on a librdkafka producer of their own, the
only one that reports every delivery; the aggregate's small table keeps Faust's.

Why it stays exact (docs/exactly-once.md): an input record is acknowledged only after
its handler handed every output to this producer (``streams.worker.policy``); Faust
commits an offset only after it flushed its producer, and the engine seam makes that
flush flush this producer too (``EngineApp.before_commit``). A flush that cannot
deliver everything, or a delivery report with an error, stops the worker at once
(``halt_worker``), so no offset is ever committed past an output Kafka did not take;
on restart everything after the last commit is read again, and every stage is
idempotent under redelivery.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import cast

from confluent_kafka import KafkaError, KafkaException, Message

from streams.core import kafka
from streams.core.settings import Settings

#: How long a flush before a commit may take before the worker gives up on Kafka.
FLUSH_TIMEOUT_SECONDS = 60.0
#: Records librdkafka may hold before ``produce`` waits for room (its own default is
#: 100,000; a surge of outputs is bounded by the commit interval anyway).
QUEUE_RECORDS = 200_000

Headers = list[tuple[str, bytes]] | None
#: What confluent-kafka's ``produce`` takes as headers.
_KafkaHeaders = list[tuple[str, str | bytes | None]] | None


class OutputProducer:
    """One per worker process. ``produce`` hands a record over (waiting only while
    librdkafka's queue is full); ``flush`` waits until Kafka took every record handed
    over, or calls ``on_failure``, which must not return (the worker halts)."""

    def __init__(
        self,
        settings: Settings,
        on_failure: Callable[[str], None],
        *,
        linger_seconds: float | None = None,
        **config: object,
    ) -> None:
        linger = settings.producer_linger_seconds if linger_seconds is None else linger_seconds
        common = {
            "linger.ms": linger * 1000,
            "queue.buffering.max.messages": QUEUE_RECORDS,
            **config,
        }
        # Outputs report failures only: a Python callback per delivered record was
        # ~7 % of the worker's time.
        self.producer = kafka.producer(
            settings,
            **{"delivery.report.only.error": True, "on_delivery": self._delivered, **common},
        )
        # Tracked records (a table's changelog: one per input record) need the offset
        # of each, so they have a producer of their own that reports every delivery.
        self.tracked_producer = kafka.producer(
            settings, **{"on_delivery": self._delivered_tracked, **common}
        )
        self.on_failure = on_failure
        #: The first delivery error, if any (set by a delivery callback, on the thread
        #: that served it: the event loop's or the flush's).
        self.failure: str | None = None
        #: The delivered offsets per (topic, partition) of records produced with
        #: ``tracked=True`` (a table's changelog), until ``take_delivered`` takes them.
        self._delivered_offsets: dict[tuple[str, int], list[int]] = {}
        self._offsets_lock = threading.Lock()

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._not_taken(message.topic(), message.partition(), error.str())

    def _delivered_tracked(self, error: KafkaError | None, message: Message) -> None:
        where = (cast(str, message.topic()), cast(int, message.partition()))
        failure = kafka.delivery_failure(error, message)  # no offset: no proof either
        if failure is not None:
            self._not_taken(*where, failure)
            return
        with self._offsets_lock:
            self._delivered_offsets.setdefault(where, []).append(cast(int, message.offset()))

    def take_delivered(self) -> dict[tuple[str, int], list[int]]:
        """Every offset Kafka acknowledged per (topic, partition) of the tracked records
        since the last call, in order (one idempotent producer: a partition's records
        keep their order)."""
        with self._offsets_lock:
            taken, self._delivered_offsets = self._delivered_offsets, {}
        return taken

    def _not_taken(self, topic: str | None, partition: int | None, why: str) -> None:
        """Keep the first failure; the next ``flush`` reports it."""
        if self.failure is None:
            self.failure = f"Kafka did not take an output on {topic}[{partition}]: {why}"

    def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        partition: int,
        headers: Headers,
        *,
        tracked: bool = False,
    ) -> None:
        """Hand one record to librdkafka (its delivery is checked by ``flush``); with
        ``tracked``, its offset is kept for ``take_delivered`` once Kafka has it."""
        producer = self.tracked_producer if tracked else self.producer
        while True:
            try:
                producer.produce(
                    topic, value, key, partition=partition, headers=cast(_KafkaHeaders, headers)
                )
                return
            except BufferError:  # the queue is full: wait a moment while it drains
                producer.flush(0.05)
            except KafkaException as exc:  # refused at once (e.g. no such partition):
                self._not_taken(topic, partition, exc.args[0].str())  # as if its delivery failed
                return

    def serve_reports(self) -> None:
        """Run the callbacks of the reports waiting (deliveries, errors, log lines),
        without waiting. Called on the event loop by a timer of the app; every flush
        serves them too. A thread of their own, waking on each report and taking the
        GIL, cost ~12 % of the worker's CPU per event (docs/benchmarks.md, 2026-12-07)."""
        self.producer.poll(0)
        self.tracked_producer.poll(0)

    async def flush(self) -> None:
        """Wait until Kafka took every record handed over; on a failure, ``on_failure``
        (before any commit: Faust calls this just before it commits offsets)."""
        remaining = await asyncio.to_thread(self._flush_both)
        if self.failure is not None:
            self.on_failure(self.failure)
        if remaining:
            self.on_failure(
                f"{remaining} outputs were not delivered within {FLUSH_TIMEOUT_SECONDS:.0f} s"
            )

    def _flush_both(self) -> int:
        """The records still undelivered after flushing both producers."""
        deadline = time.monotonic() + FLUSH_TIMEOUT_SECONDS
        remaining = self.tracked_producer.flush(FLUSH_TIMEOUT_SECONDS)
        return remaining + self.producer.flush(max(0.0, deadline - time.monotonic()))

    async def close(self) -> None:
        """Flush what is left (a graceful stop commits after it)."""
        await self.flush()
