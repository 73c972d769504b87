"""Read a topic from a fixed start to a fixed end, every partition, as fast as
confluent-kafka hands records over: the audit tools' view of the log.

The end is the high-water mark when the scan starts, so a scan during live traffic
covers a definite range of the log (``LogRange``) and says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Message, TopicPartition

from streams.core import kafka
from streams.core.errors import KafkaUnavailable
from streams.core.settings import Settings

log = logging.getLogger(__name__)

#: Records asked of librdkafka per call: large batches keep the per-call cost low.
BATCH = 10_000


@dataclass(frozen=True)
class LogRange:
    """Per partition, ``[start, end)`` offsets of a topic."""

    topic: str
    offsets: dict[int, tuple[int, int]]

    @property
    def records(self) -> int:
        return sum(end - start for start, end in self.offsets.values())

    def describe(self) -> str:
        parts = ", ".join(f"{p}:{s}-{e}" for p, (s, e) in sorted(self.offsets.items()))
        return f"{self.topic} [{parts}]"

    def only(self, partitions: list[int]) -> LogRange:
        return LogRange(self.topic, {p: self.offsets[p] for p in partitions})


@dataclass(frozen=True)
class LogRecord:
    partition: int
    offset: int
    #: When Kafka logged it (seconds since the epoch), or None if the record has none.
    timestamp: float | None
    key: bytes | None
    value: bytes | None
    #: Its Kafka headers, ``(name, value)`` in order.
    headers: tuple[tuple[str, bytes | None], ...] = ()


def _headers_of(message: Message) -> tuple[tuple[str, bytes | None], ...]:
    """A record's headers; none when confluent-kafka cannot read them (a header name
    that is no UTF-8 raises SystemError there): one bad record must not end a scan."""
    try:
        raw = message.headers()
    except (SystemError, UnicodeDecodeError):
        log.warning(
            "headers of %s/%s unreadable: read without them", message.partition(), message.offset()
        )
        return ()
    return _headers(raw)


def _headers(raw: object) -> tuple[tuple[str, bytes | None], ...]:
    """A consumed record's headers (librdkafka gives a list of pairs, or None)."""
    pairs = raw.items() if isinstance(raw, dict) else raw or ()
    return tuple(
        (name, value.encode() if isinstance(value, str) else value)
        for name, value in pairs  # type: ignore[attr-defined]
    )


def whole_log(settings: Settings, topic_name: str, timeout: float = 10.0) -> LogRange:
    """Everything a topic holds right now: low to high-water mark of every partition."""
    topic = settings.topic(topic_name)
    admin = kafka.admin_client(settings)
    metadata = kafka.cluster_metadata(admin, settings, timeout).topics.get(topic)
    if metadata is None or metadata.error is not None:
        raise KafkaUnavailable(f"topic {topic} does not exist (run `countersign topics create`)")
    reader = kafka.consumer(settings, group_id=settings.group_id("log-reader"))
    try:
        offsets = {
            p: kafka.watermarks(reader, TopicPartition(topic, p), timeout)
            for p in sorted(metadata.partitions)
        }
    finally:
        reader.close()
    return LogRange(topic, offsets)


def scan(
    settings: Settings, log: LogRange, on_progress: Callable[[int], None] = lambda _: None
) -> Generator[LogRecord, None, None]:
    """Every record of ``log``, in offset order per partition (partitions interleave).
    ``on_progress(n)`` after each batch of ``n`` records."""
    pending = {p: (start, end) for p, (start, end) in log.offsets.items() if end > start}
    if not pending:
        return
    reader = kafka.consumer(
        settings,
        group_id=settings.group_id("log-reader"),
        **{"fetch.max.bytes": 64 * 1024 * 1024, "queued.max.messages.kbytes": 262_144},
    )
    reader.assign(
        [
            TopicPartition(log.topic, p, start or OFFSET_BEGINNING)
            for p, (start, _) in pending.items()
        ]
    )
    idle_since = time.monotonic()

    def finished(partition: int) -> None:
        """Stop reading a partition: its range is done (records past it are live)."""
        del pending[partition]
        reader.pause([TopicPartition(log.topic, partition)])

    try:
        while pending:
            batch = reader.consume(BATCH, timeout=1.0)
            taken = 0
            for message in batch:
                if message.error() is not None:
                    continue
                partition, offset = message.partition() or 0, message.offset() or 0
                bounds = pending.get(partition)
                if bounds is None:
                    continue
                if offset >= bounds[1]:  # past the end: the range had a gap at its end
                    finished(partition)
                    continue
                if offset == bounds[1] - 1:
                    finished(partition)
                kind, stamp = message.timestamp()
                taken += 1
                yield LogRecord(
                    partition,
                    offset,
                    stamp / 1000 if kind and stamp > 0 else None,
                    message.key(),
                    message.value(),
                    _headers_of(message),
                )
            # An end behind a transaction marker or a compacted record is never read:
            # the position (local, no round trip) says when it is passed.
            for tp in reader.position([TopicPartition(log.topic, p) for p in pending]):
                if tp.offset >= pending[tp.partition][1]:
                    finished(tp.partition)
            if taken:
                idle_since = time.monotonic()
            elif pending and time.monotonic() - idle_since > 30:
                raise KafkaUnavailable(
                    f"no records from {log.topic} for 30 s with {len(pending)} "
                    "partitions still to read"
                )
            on_progress(taken)
    finally:
        reader.close()
