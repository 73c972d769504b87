"""The topics of docs/pipeline.md as data: name, key, value record and retention.

The one home of every topic name. Pure (no Kafka client), so the rules can name the
topic an output goes to; ``streams.core.topics`` creates and describes them on a
cluster.

Each topic's retention follows from its role: the audit log and its verdicts are
kept forever (every count must be provable later), the catalogue and the running
totals are compacted (only the latest value per key matters), and the pre-dedupe
repartition topic is bounded (its content is re-derivable from the audit log).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from streams.core.settings import Settings

DAY_MS = 24 * 60 * 60 * 1000
#: signatures.submitted must take an oversized event (up to this) so that the
#: validate agent, not the broker, rejects it with reason ``oversized``.
SUBMITTED_MAX_MESSAGE_BYTES = 2 * 1024 * 1024


class Retention(Enum):
    COMPACTED = "compacted"
    FOREVER = "forever"
    BOUNDED = "bounded"


@dataclass(frozen=True)
class TopicSpec:
    """One topic as the contract names it (without the configured prefix)."""

    name: str
    key: str
    value: str
    retention: Retention
    max_message_bytes: int | None = None
    #: Stamp records with the broker's clock on arrival (the audit log's time, which
    #: the rules judge against: streams.rules.petitions.judged_at).
    log_append_time: bool = False
    #: Compacted, and rolled and cleaned at least every ``erasure_window_seconds``, so
    #: that a record replaced by a tombstone leaves the brokers' disks within a bound
    #: (docs/privacy.md): the signers' keys.
    erasable: bool = False

    def config(self, settings: Settings) -> dict[str, str]:
        """The topic-level configs we set on creation."""
        config: dict[str, str] = {
            "min.insync.replicas": str(min(2, settings.topic_replication_factor)),
        }
        if self.retention is Retention.COMPACTED:
            config["cleanup.policy"] = "compact"
        elif self.retention is Retention.FOREVER:
            config |= {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
        else:
            retention_ms = settings.bounded_retention_days * DAY_MS
            config |= {"cleanup.policy": "delete", "retention.ms": str(retention_ms)}
        if self.erasable:
            window_ms = round(settings.erasure_window_seconds * 1000)
            config |= {
                # The active segment is never cleaned: roll it (on the next append; a
                # ticker appends every half window) ...
                "segment.ms": str(window_ms),
                # ... clean any record within this of its writing, however little of
                # the log is dirty ...
                "max.compaction.lag.ms": str(window_ms),
                "min.cleanable.dirty.ratio": "0.01",
                # ... and delete the replaced segment files soon after.
                "file.delete.delay.ms": str(min(60_000, window_ms)),
                # A tombstone holds no key; kept a day for followers that lag behind.
                "delete.retention.ms": str(DAY_MS),
            }
        if self.max_message_bytes is not None:
            config["max.message.bytes"] = str(self.max_message_bytes)
        if self.log_append_time:
            config["message.timestamp.type"] = "LogAppendTime"
        return config


PETITIONS = TopicSpec("petitions", "petition_id", "Petition", Retention.COMPACTED)
SUBMITTED = TopicSpec(
    "signatures.submitted",
    "petition_id/bucket",
    "SignatureSubmitted",
    Retention.FOREVER,
    max_message_bytes=SUBMITTED_MAX_MESSAGE_BYTES,
    log_append_time=True,
)
VALID = TopicSpec("signatures.valid", "dedupe key", "SignatureAccepted", Retention.BOUNDED)
ACCEPTED = TopicSpec("signatures.accepted", "dedupe key", "SignatureAccepted", Retention.FOREVER)
REJECTED = TopicSpec("signatures.rejected", "petition_id", "SignatureRejected", Retention.FOREVER)
DUPLICATES = TopicSpec(
    "signatures.duplicates", "dedupe key", "SignatureRejected", Retention.FOREVER
)
COUNTS = TopicSpec("counts.regional", "petition_id + country", "RegionalCount", Retention.COMPACTED)
#: Signers who followed their confirmation link: kept, so a confirmed count is provable.
CONFIRMATIONS = TopicSpec(
    "signatures.confirmations", "dedupe key", "SignatureConfirmed", Retention.FOREVER
)
#: Ops invalidated or reinstated signatures (compensating events): the audit trail.
MODERATIONS = TopicSpec(
    "signatures.moderations", "dedupe key", "SignatureModerated", Retention.FOREVER
)
#: Confirmation mails to send; bounded, as each holds a clear address.
OUTBOX = TopicSpec("mail.outbox", "dedupe key", "ConfirmationMail", Retention.BOUNDED)
#: Mail requests the mailer skipped, with the reason (its dead letters; no address).
MAIL_FAILED = TopicSpec("mail.failed", "dedupe key", "MailFailure", Retention.FOREVER)
#: When each signer was last mailed: the resend pause and daily cap survive restarts.
MAIL_HISTORY = TopicSpec("mail.history", "email_hash", "MailHistory", Retention.COMPACTED)

#: Every signer's data key, wrapped under the master key (docs/privacy.md). Erasure is
#: a tombstone; compaction then removes the key within the erasure bound.
SIGNER_KEYS = TopicSpec(
    "keys.signers",
    "dedupe key/key_id",
    "SignerKey",
    Retention.COMPACTED,
    # Rolling and the compaction lag go by record time: the broker's, not a
    # producer's clock, which could run ahead and hold a segment back.
    log_append_time=True,
    erasable=True,
)

#: Every erasure of signers' keys: who asked, when, why, which keys; never the address.
ERASURES = TopicSpec("privacy.erasures", "erasure_id", "Erasure", Retention.FOREVER)

#: The public log (docs/transparency.md): the dedupe stage's word on each signer ...
LOG_CHANGES = TopicSpec("transparency.changes", "petition_id", "LogChange", Retention.FOREVER)
#: ... the leaves its single writer appended, in each petition's order ...
LOG_LEAVES = TopicSpec("transparency.leaves", "petition_id", "LogLeaf", Retention.FOREVER)
#: ... and the newest signed head of each petition's log.
LOG_HEADS = TopicSpec("transparency.heads", "petition_id", "LogHead", Retention.COMPACTED)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    PETITIONS,
    SUBMITTED,
    VALID,
    ACCEPTED,
    REJECTED,
    DUPLICATES,
    COUNTS,
    CONFIRMATIONS,
    MODERATIONS,
    OUTBOX,
    MAIL_FAILED,
    MAIL_HISTORY,
    SIGNER_KEYS,
    ERASURES,
    LOG_CHANGES,
    LOG_LEAVES,
    LOG_HEADS,
)

#: The public log's topics: made and read only with ``COUNTERSIGN_TRANSPARENCY_LOG``.
TRANSPARENCY_TOPICS: tuple[TopicSpec, ...] = (LOG_CHANGES, LOG_LEAVES, LOG_HEADS)


def topics_in_use(settings: Settings) -> tuple[TopicSpec, ...]:
    """The topics a pipeline with these settings makes and reads: every one of the
    contract, the public log's only when it is on (a topic costs the brokers its
    partitions, and the tests make a pipeline each). ``topics manifest`` lists them
    all, for a platform that may turn the log on."""
    if settings.transparency_log:
        return ALL_TOPICS
    return tuple(spec for spec in ALL_TOPICS if spec not in TRANSPARENCY_TOPICS)
