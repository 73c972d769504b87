"""Writing ``keys.signers``: new keys, their erasure, and the ticks that bound how long
an erased key stays on the brokers' disks.

Kafka never cleans a log's active segment, and rolls a segment only when a record
arrives after ``segment.ms``. A tombstone written into a quiet partition would wait
there, with the key it erases, until the next record. So whoever runs the
``Ticker`` (``countersign serve``) appends a small record to every partition every
half window, and the bound holds on a quiet topic too (``erasure_bound_seconds``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message

from schemas.codec import codec
from schemas.sealed import DataKey, MasterKey, wrap_key
from streams.core import kafka
from streams.core.errors import KafkaBusy, PublishFailed
from streams.core.periodic import Every
from streams.core.settings import Settings
from streams.core.topicspecs import SIGNER_KEYS
from streams.rules.keys import DedupeKey, signer_key_key

log = logging.getLogger(__name__)

#: The ticker's records: a key no signer's key can have (``parse_signer_key_key``).
TICK_KEY = b"\x00tick"
#: The broker's pause between cleaner runs (``log.cleaner.backoff.ms``, Kafka's
#: default) and a margin for the cleaning itself.
CLEANER_PAUSE_SECONDS = 15.0
CLEANING_MARGIN_SECONDS = 15.0
#: How long a write to keys.signers may take before it is reported as failed.
WRITE_TIMEOUT_SECONDS = 30.0
#: What a caller is told to wait when the producer's queue is full.
WRITE_RETRY_SECONDS = 5.0


#: A waiting coroutine's future and what Kafka answered (None: taken; else why not).
_Answer = tuple[asyncio.Future[str | None], str | None]


def erasure_bound_seconds(settings: Settings) -> float:
    """How long after its tombstone an erased key may still be on a broker's disk.

    With W = ``erasure_window_seconds``: the tombstone's segment rolls within W of
    its first record plus half a window for the next tick (1.5 W); by then the
    tombstone is older than ``max.compaction.lag.ms`` (W), so the next cleaner run
    (``CLEANER_PAUSE_SECONDS``) compacts the key away; the replaced files go after
    ``file.delete.delay.ms`` (at most 60 s, at most W)."""
    window = settings.erasure_window_seconds
    return 1.5 * window + CLEANER_PAUSE_SECONDS + min(60.0, window) + CLEANING_MARGIN_SECONDS


class KeyWriter:
    """Writes keys.signers and answers once Kafka has each write on every in-sync
    replica (``PublishFailed`` otherwise): a key is never used before it is durable,
    and an erasure is never reported before it is. Any number of threads and
    coroutines may write at once; one thread serves the delivery reports."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.topic(SIGNER_KEYS.name)
        self.master = MasterKey.from_secret(settings.master_key_id, settings.master_secret)
        # Every write is answered within WRITE_TIMEOUT_SECONDS by librdkafka itself
        # (a delivery report, failed if need be): no timer per key on the event loop.
        self._producer = kafka.producer(
            settings, **{"message.timeout.ms": int(WRITE_TIMEOUT_SECONDS * 1000)}
        )
        #: Answers for coroutines, gathered during one ``poll`` and handed to their loop
        #: at once: one wake-up of the loop per broker answer, not one per key (each
        #: wake-up is a write, an epoll and a read: system calls, which cost ~5 µs here).
        #: A deque: a blocking write's ``poll`` on another thread may add to it too.
        self._answers: deque[tuple[asyncio.AbstractEventLoop, _Answer]] = deque()
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="keys-writer", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                self._producer.poll(0.1)
            except Exception:  # a bug in a report's handler: the others must still be heard
                log.exception("bug while serving keys.signers delivery reports")
            self._hand_over_answers()

    def _hand_over_answers(self) -> None:
        """Give the answers gathered so far to the loops that wait for them."""
        by_loop: dict[asyncio.AbstractEventLoop, list[_Answer]] = {}
        while True:
            try:
                loop, answer = self._answers.popleft()
            except IndexError:
                break
            by_loop.setdefault(loop, []).append(answer)
        for loop, batch in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                loop.call_soon_threadsafe(_settle_all, batch)

    def close(self) -> None:
        self._stop.set()
        self._poller.join(5)
        self._producer.flush(WRITE_TIMEOUT_SECONDS)
        self._hand_over_answers()  # the reports flush served

    def new_key(
        self, dedupe_key: DedupeKey, now: datetime | None = None
    ) -> tuple[DataKey, bytes, bytes]:
        """A new data key and its keys.signers record (Kafka key, value), not written."""
        data_key = DataKey.new()
        record = {
            "petition_id": dedupe_key.petition_id,
            "email_hash": dedupe_key.email_hash,
            "key_id": data_key.key_id,
            "master_key_id": self.master.key_id,
            "wrapped": wrap_key(
                self.master, data_key, dedupe_key.petition_id, dedupe_key.email_hash
            ),
            "created_at": now or datetime.now(UTC),
        }
        key = signer_key_key(dedupe_key, data_key.key_id)
        return data_key, key, codec("SignerKey").encode(record)

    def create(self, dedupe_key: DedupeKey, *, now: datetime | None = None) -> DataKey:
        """A new data key for this signer and petition, on Kafka before it returns."""
        data_key, key, value = self.new_key(dedupe_key, now)
        self._write([(key, value)])
        return data_key

    async def create_async(
        self, dedupe_key: DedupeKey, loop: asyncio.AbstractEventLoop | None = None
    ) -> DataKey:
        """``create`` on the event loop: waits for Kafka holding no thread. ``loop``:
        the running loop, when the caller has it (asking costs a ``getpid`` call)."""
        if self._stop.is_set():  # nobody would serve the answer
            raise PublishFailed(f"the writer of {self.topic} is closed")
        data_key, key, value = self.new_key(dedupe_key)
        loop = loop or asyncio.get_running_loop()
        done: asyncio.Future[str | None] = loop.create_future()

        def delivered(error: KafkaError | None, message: Message) -> None:
            try:
                outcome = kafka.delivery_failure(error, message)
            except Exception as exc:  # a bug: still answer, or the request waits for good
                outcome = f"unreadable delivery report ({exc!r})"
            self._answers.append((loop, (done, outcome)))

        try:
            self._producer.produce(self.topic, value, key, on_delivery=delivered)
        except BufferError:  # full: say so at once rather than block the event loop
            raise KafkaBusy("too many keys waiting for Kafka", WRITE_RETRY_SECONDS) from None
        except KafkaException as exc:
            raise PublishFailed(f"Kafka refused a key on {self.topic}: {exc}") from exc
        failure = await done
        if failure is not None:
            raise PublishFailed(
                f"Kafka did not take a key on {self.topic}: {failure}", possibly_persisted=True
            )
        return data_key

    def erase(self, dedupe_key: DedupeKey, key_ids: Iterable[str]) -> int:
        """Tombstones for these keys of the signer; how many were written."""
        return self.erase_many((dedupe_key, key_id) for key_id in key_ids)

    def erase_many(self, keys: Iterable[tuple[DedupeKey, str]]) -> int:
        """Tombstones for (signer, key id) pairs, all in flight at once (a retention
        run erases a whole petition's); how many were written."""
        records = [(signer_key_key(dedupe_key, key_id), None) for dedupe_key, key_id in keys]
        self._write(records)
        return len(records)

    def tick(self) -> None:
        """One small record to every partition, so that each rolls on time."""
        partitions = list(range(self.settings.topic_partitions))
        self._write([(TICK_KEY, b"") for _ in partitions], partitions=partitions)

    def _produce(self, key: bytes, value: bytes | None, partition: int, on_delivery: Any) -> None:
        try:
            kafka.produce_waiting(
                self._producer, self.topic, value, key, partition=partition, on_delivery=on_delivery
            )
        except KafkaException as exc:
            raise PublishFailed(f"Kafka refused a write to {self.topic}: {exc}") from exc

    def _write(
        self,
        records: Sequence[tuple[bytes, bytes | None]],
        *,
        partitions: list[int] | None = None,
    ) -> None:
        """Write ``records`` and wait until Kafka answered for each."""
        if not records:
            return
        errors: list[str] = []
        answered = threading.Semaphore(0)

        collect = kafka.failures_into(errors)

        def delivered(error: KafkaError | None, message: Message) -> None:
            collect(error, message)
            answered.release()

        for index, (key, value) in enumerate(records):
            partition = -1 if partitions is None else partitions[index]
            self._produce(key, value, partition, delivered)
        deadline = time.monotonic() + WRITE_TIMEOUT_SECONDS
        unanswered = sum(
            not answered.acquire(timeout=max(0.0, deadline - time.monotonic())) for _ in records
        )
        if errors or unanswered:
            raise PublishFailed(
                f"Kafka did not take {len(errors) + unanswered} of {len(records)} writes to "
                f"{self.topic}: {'; '.join(errors[:3]) or 'timed out'}",
                possibly_persisted=True,
            )


def _settle_all(answers: list[_Answer]) -> None:
    for future, outcome in answers:
        if not future.done():
            future.set_result(outcome)


class Ticker(Every):
    """Ticks keys.signers every half erasure window, in a daemon thread, until
    stopped; a failed tick is logged and tried again next time."""

    def __init__(self, writer: KeyWriter) -> None:
        super().__init__(
            "keys-ticker",
            writer.settings.erasure_window_seconds / 2,
            writer.tick,
            survives=(PublishFailed,),
            failed="keys.signers tick failed ({error}); erased keys may stay longer",
        )
        self.writer = writer
