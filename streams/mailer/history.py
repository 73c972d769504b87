"""When each signer was last mailed, so that re-signing cannot bomb an inbox.

Anyone can sign a pending petition again with someone else's address, and each
re-sign asks for the mail again (a ``resend``). A resend goes out only if the signer
(the email hash, whatever the petition) was not mailed in the last
``mail_resend_pause_seconds`` and had fewer than ``mail_resends_per_day`` resends in
the last 24 hours. First mails always go: they are what a signature needs.

The history lives on the compacted topic ``mail.history`` (one record per email
hash), so the pause and the cap hold across restarts and across mailers: a mailer
reads the whole topic before it mails anything, then follows it between batches.
The judgement itself is the pure functions below.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from schemas.codec import codec
from streams.core import kafka
from streams.core.errors import KafkaUnavailable, MalformedMessage
from streams.core.settings import Settings
from streams.core.topicspecs import MAIL_HISTORY

log = logging.getLogger(__name__)

DAY_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class Mailed:
    """One signer's history: the last mail of any kind, and the resends of a day."""

    last_sent_at: float
    resends: tuple[float, ...] = ()


def resend_refusal(
    mailed: Mailed | None, now: float, *, pause_seconds: float, per_day: int
) -> str | None:
    """Why a resend to this signer may not go now (None: it may)."""
    if mailed is None:
        return None
    if now - mailed.last_sent_at < pause_seconds:
        return "paused"
    if sum(1 for at in mailed.resends if now - at < DAY_SECONDS) >= per_day:
        return "daily cap"
    return None


def after_mail(mailed: Mailed | None, kind: str, now: float) -> Mailed:
    """The history once one more mail of ``kind`` went out at ``now``."""
    recent = tuple(at for at in (mailed.resends if mailed else ()) if now - at < DAY_SECONDS)
    return Mailed(now, (*recent, now) if kind == "resend" else recent)


def merged(mine: Mailed | None, theirs: Mailed) -> Mailed:
    """Two views of one signer (this mailer's and the topic's): every mail in either."""
    if mine is None:
        return theirs
    return Mailed(
        max(mine.last_sent_at, theirs.last_sent_at),
        tuple(sorted(set(mine.resends) | set(theirs.resends))),
    )


class MailHistory:
    """``mail.history`` as a dict, kept current; ``note`` writes a mail into both."""

    def __init__(self, settings: Settings, producer: Producer) -> None:
        self.topic = settings.topic(MAIL_HISTORY.name)
        self.producer = producer
        self.signers: dict[str, Mailed] = {}
        self._codec = codec("MailHistory")
        # Assigned, never subscribed: every mailer reads every partition, and no
        # offset is committed (the whole topic is read again at each start).
        self._reader: Consumer = kafka.consumer(
            settings, group_id=settings.group_id("mail-history")
        )

    def load(self, timeout: float = 60.0) -> None:
        """Read the topic to its end before the first mail is judged."""
        topic = self._reader.list_topics(self.topic, timeout=timeout).topics[self.topic]
        if topic.error is not None:
            raise KafkaUnavailable(f"cannot read {self.topic}: {topic.error.str()}")
        partitions = [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in topic.partitions]
        self._reader.assign(partitions)
        ends = {}
        for tp in partitions:
            low, high = kafka.watermarks(self._reader, tp, timeout)
            if high > low:
                ends[tp.partition] = high
        read = 0
        while ends:
            for message in self._reader.consume(1000, timeout=1.0):
                if not message.error():
                    read += 1
                    self._take(message.value())
            positions = self._reader.position([TopicPartition(self.topic, p) for p in ends])
            for tp in positions:
                if tp.offset >= ends[tp.partition]:
                    del ends[tp.partition]
        log.info("mail history: %d records read, %d signers known", read, len(self.signers))

    def refresh(self) -> None:
        """Take what other mailers wrote since (no wait)."""
        for message in self._reader.consume(1000, timeout=0):
            if not message.error():
                self._take(message.value())

    def get(self, email_hash: str) -> Mailed | None:
        return self.signers.get(email_hash)

    def note(self, email_hash: str, kind: str, now: float) -> None:
        """One mail went out: remember it here and on the topic (flushed by the caller
        before it commits the outbox)."""
        mailed = after_mail(self.signers.get(email_hash), kind, now)
        self.signers[email_hash] = mailed
        value = self._codec.encode(
            {
                "email_hash": email_hash,
                "last_sent_at": datetime.fromtimestamp(mailed.last_sent_at, UTC),
                "resends": [datetime.fromtimestamp(at, UTC) for at in mailed.resends],
            }
        )
        kafka.produce_waiting(self.producer, self.topic, value, email_hash.encode())

    def close(self) -> None:
        self._reader.close()

    def _take(self, value: bytes | None) -> None:
        try:
            record = self._codec.decode(value or b"")
        except MalformedMessage as exc:
            log.warning("unreadable mail history record skipped: %s", exc.detail)
            return
        theirs = Mailed(
            record["last_sent_at"].timestamp(), tuple(at.timestamp() for at in record["resends"])
        )
        self.signers[record["email_hash"]] = merged(self.signers.get(record["email_hash"]), theirs)
