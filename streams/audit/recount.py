"""Every count recomputed from the audit log as one batch, without the agents.

The agents decide event by event with state in RocksDB tables, changelogs and a
second hop between partitions; ``Recount`` reads the log's records in any order and
keeps one dict: for each dedupe key, the earliest valid submission. Only the rules
themselves (``streams.rules.verdict.judge``, judged at the time Kafka logged each
record) are shared, because a rule has one home. Where the pipeline and this disagree,
one of them is wrong, and ``countersign reconcile`` says where.

"Earliest" is log order: by offset within a partition; across partitions (a signer
whose forms used two key formats) by the time Kafka logged the records. Such keys are
``contested``: the pipeline settles them in the order it happens to read the
partitions, so their country can differ; ``reconcile`` reports how many there are.

Where a petition asks for confirmation, a winner counts once signatures.confirmations
holds a confirmation of its key (``confirmations``: the earliest log time of each),
and is pending until then. A later submission of a pending signer is a resend of the
mail, not a duplicate: whether the confirmation came first is decided by log time,
which the pipeline follows only within its processing lag, so re-signs within
``CLOSE_CALL_SECONDS`` of their confirmation may lawfully be either (``leeway``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, ClassVar

from schemas.batch import items_of
from schemas.codec import codec
from streams.core.errors import MalformedMessage
from streams.core.logscan import LogRecord
from streams.rules.cut import Cut
from streams.rules.keys import DedupeKey, petition_of_key
from streams.rules.petitions import PetitionWindow, judged_at
from streams.rules.placement import home_partition
from streams.rules.reasons import Reason
from streams.rules.verdict import Accepted, SourcePosition, judge

CountKey = tuple[str, str, str]  # petition, region, country
#: (log time, partition, offset, index, petition, region, country, must confirm, home
#: partition) of a winner.
Winner = tuple[float, int, int, int, str, str, str, bool, int]
ReasonKey = tuple[str, str]  # petition, reason
#: (petition, reason, partition, offset, index, home partition or -1) of a rejection:
#: where it sits, to recount it at a cut.
Rejection = tuple[str, str, int, int, int, int]
#: A re-sign this close to its signer's confirmation may be a duplicate or a resend.
CLOSE_CALL_SECONDS = 60.0


def earlier(a: Winner, b: Winner) -> bool:
    """Whether submission ``a`` comes before ``b`` in the log."""
    if a[1] == b[1]:
        return (a[2], a[3]) < (b[2], b[3])
    return (a[0], a[1]) < (b[0], b[1])


@dataclass
class Recount:
    #: What a recount found (the rest is what it was given): sent back by a part.
    FINDINGS: ClassVar[tuple[str, ...]] = (
        "winners",
        "rejected",
        "contested",
        "events",
        "close_calls",
        "aliases",
        "rejections",
    )

    windows: Mapping[str, PetitionWindow]
    hash_key: bytes
    topic: str
    winners: dict[bytes, Winner] = field(default_factory=dict)
    rejected: Counter[ReasonKey] = field(default_factory=Counter)
    #: Dedupe keys whose valid submissions sit in more than one partition, with the
    #: rows (petition, region, country) any of them would count in.
    contested: dict[bytes, set[CountKey]] = field(default_factory=dict)
    events: int = 0
    #: Dedupe key -> the log time of its first confirmation (read beforehand).
    confirmations: Mapping[bytes, float] = field(default_factory=dict)
    #: Dedupe keys whose latest moderation took them out of the count.
    invalidated: set[bytes] = field(default_factory=set)
    #: ``(id, key)`` of the email-hash keys used before a rotation (a signer's
    #: entry may sit under one of their hashes).
    previous_keys: Sequence[tuple[str, bytes]] = ()
    #: The id of ``hash_key``: a sealed record's hash is taken under the key of this
    #: id, as the worker takes it (docs/privacy.md).
    hash_key_id: str = ""
    #: A signer's dedupe key -> their keys under the email-hash keys used before a
    #: rotation: confirmations and moderations made then name one of those.
    aliases: dict[bytes, tuple[bytes, ...]] = field(default_factory=dict)
    #: Re-signs that came within ``CLOSE_CALL_SECONDS`` of their confirmation.
    close_calls: Counter[ReasonKey] = field(default_factory=Counter)
    #: Partitions of the log: a signer's home partition is worked out from them.
    partitions: int = 1
    #: Dedupe key -> the offset of its first confirmation (on its home partition).
    confirmation_offsets: Mapping[bytes, int] = field(default_factory=dict)
    #: Dedupe key -> its moderations in log order: (offset, whether it invalidates).
    moderation_history: Mapping[bytes, Sequence[tuple[int, bool]]] = field(default_factory=dict)
    #: Every rejection with its place, to recount them at a cut.
    rejections: list[Rejection] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._codec = codec("SignatureSubmitted")

    def add(self, record: LogRecord) -> None:
        logged_at = judged_at(record.timestamp, datetime.now(UTC))
        stamp = logged_at.timestamp()
        try:
            items = items_of(record.key, record.value)
        except MalformedMessage:  # one malformed submission, as the worker rejects it
            self._reject(petition_of_key(record.key), Reason.MALFORMED.value, record, 0)
            self.events += 1
            return
        for index, (key, value) in enumerate(items):
            self.events += 1
            at = SourcePosition(self.topic, record.partition, record.offset, index)
            verdict = judge(
                value,
                key,
                at,
                petitions=self.windows,
                now=logged_at,
                hash_key=self.hash_key,
                submitted_codec=self._codec,
                hash_key_id=self.hash_key_id,
                previous_keys=self.previous_keys,
            )
            if not isinstance(verdict, Accepted):
                self._reject(verdict.petition_id, verdict.reason.value, record, index)
                continue
            signature = verdict.record
            candidate: Winner = (
                stamp,
                record.partition,
                record.offset,
                index,
                str(signature["petition_id"]),
                str(signature["region"]),
                str(signature["country"]),
                bool(signature["confirmation_required"]),
                home_partition(verdict.submission_key, self.partitions),
            )
            signer = self._key_of(verdict)
            if verdict.previous_hashes and signer not in self.aliases:
                petition = verdict.dedupe_key.petition_id
                self.aliases[signer] = tuple(
                    DedupeKey(petition, digest).encode() for _, digest in verdict.previous_hashes
                )
            self._settle(signer, candidate)

    def _reject(self, petition: str, reason: str, record: LogRecord, index: int) -> None:
        self.rejected[(petition, reason)] += 1
        self.rejections.append((petition, reason, record.partition, record.offset, index, -1))

    def _names(self, key: bytes) -> tuple[bytes, ...]:
        """Every key a signer's confirmations and moderations may name."""
        return (key, *self.aliases.get(key, ()))

    def _confirmed_at(self, key: bytes) -> float | None:
        times = [self.confirmations[k] for k in self._names(key) if k in self.confirmations]
        return min(times, default=None)

    def _invalidated(self, key: bytes) -> bool:
        return any(k in self.invalidated for k in self._names(key))

    def _key_of(self, verdict: Accepted) -> bytes:
        """The signer's dedupe key: under the current email-hash key, unless they have
        an entry under a key used before a rotation (then that one)."""
        key = verdict.dedupe_key.encode()
        if key in self.winners:
            return key
        petition = verdict.dedupe_key.petition_id
        older = (DedupeKey(petition, digest).encode() for _, digest in verdict.previous_hashes)
        return next((k for k in older if k in self.winners), key)

    def _settle(self, key: bytes, candidate: Winner) -> None:
        stored = self.winners.get(key)
        if stored is None:
            self.winners[key] = candidate
            return
        if stored[1] != candidate[1]:
            rows = self.contested.setdefault(key, set())
            rows |= {stored[4:7], candidate[4:7]}
        if earlier(candidate, stored):
            self.winners[key], candidate = candidate, stored
        winner = self.winners[key]
        if winner[7]:  # the winner had to confirm: pending at the re-sign's time?
            confirmed_at = self._confirmed_at(key)
            pending = confirmed_at is None or candidate[0] < confirmed_at
            close = (
                confirmed_at is not None and abs(candidate[0] - confirmed_at) < CLOSE_CALL_SECONDS
            )
            if close or (pending and self._invalidated(key)):
                # Either may be right: the pipeline decides by what it had read then,
                # and moderations are judged here by their final state only.
                self.close_calls[(candidate[4], Reason.DUPLICATE.value)] += 1
            if pending and not self._invalidated(key):
                return  # a resend of the confirmation mail, not a duplicate
        self.rejected[(candidate[4], Reason.DUPLICATE.value)] += 1
        self.rejections.append(
            (candidate[4], Reason.DUPLICATE.value, *candidate[1:4], candidate[8])
        )

    def merge(self, other: Recount) -> None:
        """Fold in the recount of other partitions."""
        self.events += other.events
        self.rejected.update(other.rejected)
        self.close_calls.update(other.close_calls)
        self.rejections.extend(other.rejections)
        for key, names in other.aliases.items():
            self.aliases.setdefault(key, names)
        for key, rows in other.contested.items():
            self.contested.setdefault(key, set()).update(rows)
        for key, winner in other.winners.items():
            self._settle(key, winner)

    def counts(self) -> Counter[CountKey]:
        """Counted signatures: winners that needed no confirmation, or have one."""
        return Counter(
            (w[4], w[5], w[6])
            for key, w in self.winners.items()
            if (not w[7] or self._confirmed_at(key) is not None) and not self._invalidated(key)
        )

    def pending_by_country(self) -> Counter[tuple[str, str]]:
        """Winners still waiting for their signer's confirmation, per (petition,
        country)."""
        return Counter(
            (w[4], w[6])
            for key, w in self.winners.items()
            if w[7] and self._confirmed_at(key) is None and not self._invalidated(key)
        )

    def pending(self) -> Counter[str]:
        """Winners still waiting for their signer's confirmation, per petition."""
        per_petition: Counter[str] = Counter()
        for (petition, _), n in self.pending_by_country().items():
            per_petition[petition] += n
        return per_petition

    # -- at a cut: what a count that covered only so much of the log must show --------

    @cached_property
    def _by_row(self) -> dict[tuple[str, str], list[tuple[bytes, Winner]]]:
        """Winners by (petition, country), worked out once, when the recount is done."""
        rows: dict[tuple[str, str], list[tuple[bytes, Winner]]] = {}
        for key, w in self.winners.items():
            rows.setdefault((w[4], w[6]), []).append((key, w))
        return rows

    def _status_at(self, key: bytes, winner: Winner, cut: Cut) -> str | None:
        """``counted``, ``pending``, ``invalidated``, or None when the winner lies
        beyond the cut of its home partition."""
        home = cut.home(winner[8])
        if not home.covers_submission(*winner[1:4]):
            return None
        names = self._names(key)
        moderations = [
            (offset, invalidates)
            for name in names
            for offset, invalidates in self.moderation_history.get(name, ())
            if home.covers_moderation(offset)
        ]
        if moderations and max(moderations)[1]:
            return "invalidated"
        if not winner[7]:
            return "counted"
        confirmed = any(
            home.covers_confirmation(self.confirmation_offsets[name])
            for name in names
            if name in self.confirmation_offsets
        )
        return "counted" if confirmed else "pending"

    def rows_of(self) -> set[tuple[str, str]]:
        """Every (petition, country) that has a winner."""
        return set(self._by_row)

    def row_at(self, petition: str, country: str, cut: Cut) -> tuple[int, int]:
        """(counted, pending) of one (petition, country) as a count at ``cut`` shows it."""
        statuses = Counter(
            self._status_at(key, w, cut) for key, w in self._by_row.get((petition, country), ())
        )
        return statuses["counted"], statuses["pending"]

    def winners_at(self, cut: Cut) -> Counter[CountKey]:
        """Winners (counted, pending or invalidated: each has its signature row) that
        ``cut`` covers."""
        return Counter(
            w[4:7] for w in self.winners.values() if cut.home(w[8]).covers_submission(*w[1:4])
        )

    def rejected_at(self, cut: Cut) -> Counter[ReasonKey]:
        """Rejections that ``cut`` covers: a duplicate is decided at its signer's home,
        any other where it was read (which its partition's own home cut covers)."""
        return Counter(
            (petition, reason)
            for petition, reason, partition, offset, index, home in self.rejections
            if cut.home(partition if home < 0 else home).covers_submission(partition, offset, index)
        )

    def leeway(self) -> Counter[CountKey]:
        """How far each row's count may lawfully differ from ``counts``: one for every
        contested key that could land in it or leave it (the pipeline settles such
        a key in the order it reads the partitions)."""
        return Counter(row for rows in self.contested.values() if len(rows) > 1 for row in rows)

    @classmethod
    def of(
        cls,
        records: Iterable[LogRecord],
        windows: Mapping[str, PetitionWindow],
        hash_key: bytes,
        topic: str,
        *,
        confirmations: Mapping[bytes, float] | None = None,
        invalidated: set[bytes] | None = None,
        previous_keys: Sequence[tuple[str, bytes]] = (),
        partitions: int = 1,
    ) -> Recount:
        recount = cls(
            windows,
            hash_key,
            topic,
            confirmations=confirmations or {},
            invalidated=invalidated or set(),
            previous_keys=previous_keys,
            partitions=partitions,
        )
        for record in records:
            recount.add(record)
        return recount


def _signer_events(
    records: Iterable[LogRecord], record_type: str
) -> Iterator[tuple[LogRecord, dict[str, Any], bytes]]:
    """The readable records about one signer each (confirmations, moderations) whose
    key names that signer, with their dedupe key: what the worker applies (it
    dead-letters the others)."""
    decoder = codec(record_type)
    for record in records:
        try:
            value = decoder.decode(record.value or b"")
        except MalformedMessage:
            continue
        key = DedupeKey(value["petition_id"], value["email_hash"]).encode()
        if record.key == key:
            yield record, value, key


def confirmation_times(records: Iterable[LogRecord]) -> dict[bytes, float]:
    """Dedupe key -> when Kafka logged its first confirmation (the records of
    signatures.confirmations)."""
    first: dict[bytes, float] = {}
    for record, _, key in _signer_events(records, "SignatureConfirmed"):
        stamp = judged_at(record.timestamp, datetime.now(UTC)).timestamp()
        first[key] = min(stamp, first.get(key, stamp))
    return first


def first_confirmation_offsets(records: Iterable[LogRecord]) -> dict[bytes, int]:
    """Dedupe key -> the offset of its first confirmation (each signer's confirmations
    share their home partition)."""
    first: dict[bytes, int] = {}
    for record, _, key in _signer_events(records, "SignatureConfirmed"):
        first[key] = min(record.offset, first.get(key, record.offset))
    return first


def moderation_histories(records: Iterable[LogRecord]) -> dict[bytes, list[tuple[int, bool]]]:
    """Dedupe key -> its moderations in log order: (offset, whether it invalidates)."""
    history: dict[bytes, list[tuple[int, bool]]] = {}
    for record, value, key in _signer_events(records, "SignatureModerated"):
        if value["action"] in ("invalidate", "reinstate"):
            history.setdefault(key, []).append((record.offset, value["action"] == "invalidate"))
    for moves in history.values():
        moves.sort()
    return history


def invalidated_keys(records: Iterable[LogRecord]) -> set[bytes]:
    """Dedupe keys whose latest moderation (in log order: a signer's moderations share
    their home partition) is ``invalidate``."""
    latest: dict[bytes, tuple[int, str]] = {}
    for record, value, key in _signer_events(records, "SignatureModerated"):
        if (
            value["action"] in ("invalidate", "reinstate")
            and record.offset >= latest.get(key, (-1, ""))[0]
        ):
            latest[key] = (record.offset, value["action"])
    return {key for key, (_, action) in latest.items() if action == "invalidate"}
