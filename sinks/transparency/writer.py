"""The single writer of the petitions' public logs (docs/transparency.md).

It reads the dedupe stage's words on transparency.changes, appends the leaves they
call for to transparency.leaves (``streams.rules.log_writer`` decides), and signs a
head of each log that grew, every ``transparency_head_interval_seconds``, onto
transparency.heads. Each round is one Kafka transaction: the leaves, the heads and
the words' consumer offsets commit together or not at all, so a writer killed in the
middle leaves nothing half-written, and the words it had not committed are read again
by the next one, which rebuilt its logs from the committed leaves. Its transactional
id is the pipeline's own: a second writer fences the first (whose next commit fails,
and which then stops), so two never append to one log.

Runs in the sink's process (``countersign sink`` or ``serve``): one per pipeline.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

from schemas.codec import codec
from streams.core import kafka
from streams.core.errors import ConfigurationError, MalformedMessage
from streams.core.logscan import scan, whole_log
from streams.core.settings import Settings
from streams.core.topicspecs import LOG_CHANGES, LOG_HEADS, LOG_LEAVES
from streams.rules.log_writer import PetitionLog
from streams.rules.signed_note import NoteError, Signer

log = logging.getLogger(__name__)

#: Words taken per round (one transaction).
ROUND = 2_000


class LogCorrupt(RuntimeError):
    """transparency.leaves does not hold the logs this writer wrote: stop, do not
    append to it."""


class LogWriter:
    """The writer's thread: ``start``, then ``stop``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.signer = signer_of(settings)
        self.logs: dict[str, PetitionLog] = {}
        self.word_codec = codec("LogChange")
        self.leaf_codec = codec("LogLeaf")
        self.head_codec = codec("LogHead")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        #: Set once the writer has rebuilt its logs and reads words (for /healthz, tests).
        self.ready = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._session()
            except KafkaException as exc:
                if _fatal(exc):
                    log.critical("the log writer stops: %s (another writer took over?)", exc)
                    return
                log.warning("log writer: %s; rebuilding from the committed leaves in 2 s", exc)
                self._stop.wait(2.0)
            except LogCorrupt as exc:
                log.critical("the log writer stops: %s", exc)
                return

    def _session(self) -> None:
        """Fence any other writer, rebuild the logs from what was committed, then
        append round by round until stopped or a Kafka error ends the session."""
        producer = kafka.producer(
            self.settings,
            **{"transactional.id": self.settings.group_id("log-writer"), "linger.ms": 20},
        )
        producer.init_transactions(30)  # aborts and fences what an older writer left open
        consumer = None
        try:
            self._rebuild()
            consumer = kafka.consumer(self.settings, self.settings.group_id("log-writer"))
            consumer.subscribe([self.settings.topic(LOG_CHANGES.name)])
            self.ready.set()
            last_heads = time.monotonic()
            while not self._stop.is_set():
                messages = consumer.consume(ROUND, timeout=0.5)
                heads_due = (
                    time.monotonic() - last_heads
                    >= self.settings.transparency_head_interval_seconds
                )
                if not messages and not heads_due:
                    continue
                self._round(producer, consumer, messages, heads=heads_due)
                if heads_due:
                    last_heads = time.monotonic()
        except Exception:
            self.ready.clear()
            self.logs.clear()  # what the aborted round appended is not in the topic
            _abort(producer)
            raise
        finally:
            if consumer is not None:
                consumer.close()
            producer.flush(10)

    def _rebuild(self) -> None:
        """The logs as transparency.leaves holds them (committed leaves only)."""
        self.logs.clear()
        leaves = whole_log(self.settings, LOG_LEAVES.name)
        for record in scan(self.settings, leaves):
            leaf = self.leaf_codec.decode(record.value)
            petition_log = self._log(leaf["petition_id"])
            if leaf["leaf_index"] != petition_log.size:
                raise LogCorrupt(
                    f"leaf {leaf['leaf_index']} of {leaf['petition_id']} follows "
                    f"{petition_log.size} leaves on {leaves.topic}"
                )
            petition_log.restore(leaf["leaf"], leaf["changes"])
        for petition_log in self.logs.values():
            petition_log.signed_size = 0  # sign each again: the heads topic is compacted
        if leaves.records:
            log.info(
                "log writer: %d logs rebuilt from %d leaves (%s)",
                len(self.logs),
                leaves.records,
                ", ".join(f"{p}: {g.size}, count {g.count}" for p, g in sorted(self.logs.items())),
            )

    def _log(self, petition_id: str) -> PetitionLog:
        found = self.logs.get(petition_id)
        if found is None:
            found = self.logs[petition_id] = PetitionLog(petition_id)
        return found

    def _round(
        self, producer: Producer, consumer: Consumer, messages: list[Message], *, heads: bool
    ) -> None:
        """One transaction: the leaves ``messages`` call for, the heads if due, and the
        consumer's offsets past ``messages``."""
        now = datetime.now(UTC)
        producer.begin_transaction()
        appended = 0
        leaves_topic = self.settings.topic(LOG_LEAVES.name)
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(error)
            try:
                word = self.word_codec.decode(message.value())
            except MalformedMessage as exc:  # our dedupe stage writes only good ones
                log.error(
                    "log writer: a word at %s/%s skipped: %s",
                    message.partition(),
                    message.offset(),
                    exc.detail,
                )
                continue
            petition_log = self._log(word["petition_id"])
            leaf = petition_log.decide(word["commitment"], word["counted"], word["changes"])
            if leaf is None:
                continue
            record = {
                "petition_id": petition_log.petition_id,
                "leaf_index": petition_log.size,
                "leaf": leaf,
                "changes": word["changes"],
                "appended_at": now,
            }
            kafka.produce_waiting(
                producer,
                leaves_topic,
                self.leaf_codec.encode(record),
                record["petition_id"].encode(),
            )
            petition_log.append(leaf, word["changes"])
            appended += 1
        signed = self._sign_heads(producer, now) if heads else 0
        if messages:
            producer.send_offsets_to_transaction(
                consumer.position(consumer.assignment()), consumer.consumer_group_metadata(), 30
            )
        producer.commit_transaction(30)
        if appended or signed:
            log.debug("log writer: %d leaves appended, %d heads signed", appended, signed)

    def _sign_heads(self, producer: Producer, now: datetime) -> int:
        heads_topic = self.settings.topic(LOG_HEADS.name)
        signed = 0
        for petition_log in self.logs.values():
            if not petition_log.unsigned:
                continue
            note = petition_log.sign(self.settings.transparency_origin, self.signer)
            head = {
                "petition_id": petition_log.petition_id,
                "tree_size": petition_log.size,
                "signatures": petition_log.count,
                "note": note,
                "signed_at": now,
            }
            value = self.head_codec.encode(head)
            kafka.produce_waiting(producer, heads_topic, value, petition_log.petition_id.encode())
            signed += 1
        return signed


def signer_of(settings: Settings) -> Signer:
    """The key that signs the heads, refused when it cannot be the one published: the
    public development key in production, or not the pair of
    ``COUNTERSIGN_TRANSPARENCY_VERIFIER_KEY`` where that is set."""
    if settings.env == "production" and not settings.transparency_signer_is_own:
        raise ConfigurationError(
            "COUNTERSIGN_TRANSPARENCY_SIGNER_KEY must be a key of your own where the "
            "public log is written: the development key is public (docs/transparency.md)"
        )
    try:
        signer = Signer.parse(settings.transparency_signer_key.get_secret_value())
    except NoteError as exc:
        raise ConfigurationError(f"COUNTERSIGN_TRANSPARENCY_SIGNER_KEY: {exc}") from None
    published = settings.transparency_verifier_key
    if published and published != signer.verifier.encode():
        raise ConfigurationError(
            "COUNTERSIGN_TRANSPARENCY_VERIFIER_KEY is not the public key of "
            f"COUNTERSIGN_TRANSPARENCY_SIGNER_KEY ({signer.verifier.encode()}): the heads "
            "would not check against the key /api/keys publishes"
        )
    return signer


def _fatal(exc: Exception) -> bool:
    """Whether the error ends this writer for good: another one fenced it."""
    error = exc.args[0] if exc.args else None
    return isinstance(error, KafkaError) and (error.fatal() or error.code() == KafkaError._FENCED)


def _abort(producer: Producer) -> None:
    try:
        producer.abort_transaction(10)
    except KafkaException as exc:
        log.debug("log writer: nothing to abort (%s)", exc)
