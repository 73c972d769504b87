"""Writing ``keys.signers``: new keys, their erasure, and the ticks that bound how long
an erased key stays on the brokers' disks.

Kafka never cleans a log's active segment, and rolls a segment only when a record
arrives after ``segment.ms``. A tombstone written into a quiet partition would wait
there, with the key it erases, until the next record. So whoever runs the
``Ticker`` (``countersign serve``) appends a small record to every partition every
half window, and the bound holds on a quiet topic too (``erasure_bound_seconds``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from confluent_kafka import KafkaError, Message

from schemas.codec import codec
from schemas.sealed import DataKey, MasterKey, wrap_key
from streams.core import kafka
from streams.core.errors import PublishFailed
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
    """Writes keys.signers and waits until Kafka has each write on every in-sync
    replica (``PublishFailed`` otherwise): a key is never used before it is durable,
    and an erasure is never reported before it is."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.topic(SIGNER_KEYS.name)
        self.master = MasterKey.from_secret(settings.master_key_id, settings.master_secret)
        self._producer = kafka.producer(settings)
        self._lock = threading.Lock()  # one write and its wait at a time

    def create(self, dedupe_key: DedupeKey, *, now: datetime | None = None) -> DataKey:
        """A new data key for this signer and petition, on Kafka before it returns."""
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
        self._write(
            [(signer_key_key(dedupe_key, data_key.key_id), codec("SignerKey").encode(record))]
        )
        return data_key

    def erase(self, dedupe_key: DedupeKey, key_ids: Iterable[str]) -> int:
        """Tombstones for these keys of the signer; how many were written."""
        records = [(signer_key_key(dedupe_key, key_id), None) for key_id in key_ids]
        self._write(records)
        return len(records)

    def tick(self) -> None:
        """One small record to every partition, so that each rolls on time."""
        partitions = range(self.settings.topic_partitions)
        self._write([(TICK_KEY, b"") for _ in partitions], partitions=list(partitions))

    def _write(
        self,
        records: Sequence[tuple[bytes, bytes | None]],
        *,
        partitions: list[int] | None = None,
    ) -> None:
        if not records:
            return
        errors: list[str] = []

        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                errors.append(error.str())

        with self._lock:
            for index, (key, value) in enumerate(records):
                kafka.produce_waiting(
                    self._producer,
                    self.topic,
                    value,
                    key,
                    partition=-1 if partitions is None else partitions[index],
                    on_delivery=delivered,
                )
            left = self._producer.flush(WRITE_TIMEOUT_SECONDS)
        if errors or left:
            raise PublishFailed(
                f"Kafka did not take {len(errors) + left} of {len(records)} writes to "
                f"{self.topic}: {'; '.join(errors[:3]) or 'timed out'}",
                possibly_persisted=True,
            )


class Ticker:
    """Ticks keys.signers every half erasure window, in a daemon thread, until
    stopped; a failed tick is logged and tried again next time."""

    def __init__(self, writer: KeyWriter) -> None:
        self.writer = writer
        self.interval = writer.settings.erasure_window_seconds / 2
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="keys-ticker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.writer.tick()
            except PublishFailed as exc:
                log.warning("keys.signers tick failed (%s); erased keys may stay longer", exc)
