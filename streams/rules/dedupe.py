"""One accepted signature per dedupe key; the first in stream order wins.

The dedupe key alone decides (docs/architecture.md): a signature_id never does, so no
outcome depends on how many partitions there are. The dedupe stage remembers one
``Winner`` per key, which is also all it needs to count its winners per
(petition, country) (``PartialCounts``) and to tell its own redelivery of a winner
from a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from streams.rules.cut import HomeCut, HomeCutTracker
from streams.rules.keys import DedupeKey

#: Header of a signatures.valid record carrying its candidate ``Winner``: the dedupe
#: stage decides from the key and this header alone and decodes the record only to
#: write a duplicate's rejection (a record without it is decoded: same verdict).
WINNER_HEADER = "countersign-winner"


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    #: The very event that won before, delivered again after a crash: forward it again
    #: (everything downstream is keyed by the dedupe key), never call it a duplicate.
    REPLAYED = "replayed"
    #: Signed again while the first signature waits for confirmation: the mail is sent
    #: again, and nothing is counted (it is neither a new signature nor a duplicate).
    RESENT = "resent"


class Status(StrEnum):
    """Where a dedupe entry stands with confirmation (one letter in the table)."""

    #: The petition did not ask for confirmation: counted when accepted.
    NOT_NEEDED = "-"
    PENDING = "p"
    CONFIRMED = "c"


@dataclass(frozen=True, slots=True)
class Winner:
    """What the dedupe table remembers of an accepted signature: where it sits in the
    audit log (to recognise its redelivery), its country (to count it), its home
    partition, the table partition it lives in (to count it there after a restart),
    and its confirmation status.

    ``changes`` counts the changes the entry went through (confirmed, invalidated,
    reinstated): with the entries themselves it makes the partition's version
    (``PartialCounts``), so that version can be derived from the table alone. An
    entry with no position (``partition`` -1) is a confirmation or a moderation that
    arrived before its signature (``placeholder``). ``invalidated``: ops took the
    signature out of the count (``countersign invalidate``); it stays the winner.
    ``confirmed_at`` and ``moderated_at``: the offsets, on the home partition of
    signatures.confirmations and .moderations, of the last record that changed the
    entry (-1: none), from which the partition's cut is derived (``rules.cut``).
    ``leaf``: the commitment of the signature's leaves in the petition's public log
    (``rules.transparency``; None while the log is off), kept so that a removal can
    repeat it without the signature's record."""

    country: str
    partition: int  # of signatures.submitted
    offset: int
    home: int  # the signer's home partition (rules.keys)
    index: int = 0  # in a record that carries several submissions (schemas.batch)
    status: Status = Status.NOT_NEEDED
    changes: int = 0
    invalidated: bool = False
    confirmed_at: int = -1
    moderated_at: int = -1
    leaf: bytes | None = None

    def encode(self) -> bytes:
        """``country partition offset home [index [status changes [x] [c<offset>]
        [m<offset>] [l<hex>]]]``: the shortest form that says it, so entries written
        before batches, confirmation, moderation, cuts and the log existed read the
        same."""
        text = f"{self.country} {self.partition} {self.offset} {self.home}"
        extended = self.status is not Status.NOT_NEEDED or self.changes or self.invalidated
        if extended or self.leaf is not None:
            text = f"{text} {self.index} {self.status.value} {self.changes}"
            if self.invalidated:
                text += " x"
            if self.confirmed_at >= 0:
                text += f" c{self.confirmed_at}"
            if self.moderated_at >= 0:
                text += f" m{self.moderated_at}"
            if self.leaf is not None:
                text += f" l{self.leaf.hex()}"
            return text.encode()
        return (f"{text} {self.index}" if self.index else text).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Winner:
        country, partition, offset, home, *rest = raw.split(b" ")
        index = int(rest[0]) if rest else 0
        status = Status(rest[1].decode()) if len(rest) > 1 else Status.NOT_NEEDED
        changes = int(rest[2]) if len(rest) > 2 else 0
        marks = rest[3:]
        confirmed_at = moderated_at = -1
        leaf = None
        for mark in marks:
            if mark[:1] == b"c":
                confirmed_at = int(mark[1:])
            elif mark[:1] == b"m":
                moderated_at = int(mark[1:])
            elif mark[:1] == b"l":
                leaf = bytes.fromhex(mark[1:].decode())
        return cls(
            country.decode(),
            int(partition),
            int(offset),
            int(home),
            index,
            status,
            changes,
            b"x" in marks,
            confirmed_at,
            moderated_at,
            leaf,
        )

    @classmethod
    def of(cls, accepted: dict[str, object], home: int, leaf: bytes | None = None) -> Winner:
        """The candidate of a SignatureAccepted record whose signer lives on ``home``
        (``leaf``: its commitment in the public log, when the log is on)."""
        return cls(
            str(accepted["country"]),
            int(accepted["source_partition"]),  # type: ignore[call-overload]
            int(accepted["source_offset"]),  # type: ignore[call-overload]
            home,
            int(accepted.get("source_index") or 0),  # type: ignore[call-overload]
            Status.PENDING if accepted.get("confirmation_required") else Status.NOT_NEEDED,
            leaf=leaf,
        )

    @classmethod
    def placeholder(
        cls,
        home: int,
        *,
        confirmed: bool,
        invalidated: bool = False,
        confirmed_at: int = -1,
        moderated_at: int = -1,
    ) -> Winner:
        """A confirmation or moderation whose signature has not been settled yet (only
        when the topics are read out of order, as a replay may): the signature, once
        it comes, takes it over."""
        status = Status.CONFIRMED if confirmed else Status.NOT_NEEDED
        return cls("", -1, -1, home, 0, status, 0, invalidated, confirmed_at, moderated_at)

    @property
    def is_placeholder(self) -> bool:
        return self.partition < 0

    @property
    def counted(self) -> bool:
        real = not self.is_placeholder and not self.invalidated
        return real and self.status is not Status.PENDING

    @property
    def pending(self) -> bool:
        real = not self.is_placeholder and not self.invalidated
        return real and self.status is Status.PENDING

    @property
    def position(self) -> str:
        """``partition/offset``, and ``#index`` for an item of a batch."""
        at = f"{self.partition}/{self.offset}"
        return f"{at}#{self.index}" if self.index else at


def restores_over(stored: bytes, restored: bytes) -> bool:
    """Whether a restored changelog write of entry ``restored`` may replace ``stored``:
    not when it went through fewer changes. An entry's ``changes`` never fall, but a
    worker paused with a record in its producer sends it when it wakes, after the
    records of the worker that took its partition meanwhile: an older state of the
    entry (pending, where the other recorded the confirmation), which restored last
    would undo the change (docs/exactly-once.md)."""
    return Winner.decode(restored).changes >= Winner.decode(stored).changes


def decide(candidate: Winner, stored: Winner | None) -> tuple[Outcome, Winner]:
    """The fate of a valid signature given the entry stored for its dedupe key, and
    the entry to store. Only the very same submission (partition, offset and index)
    is a replay: two items of one batch with the same dedupe key are a winner and a
    duplicate (or a resend, while the first waits for confirmation)."""
    if stored is None:
        return Outcome.ACCEPTED, candidate
    if stored.is_placeholder:
        confirmed = stored.status is Status.CONFIRMED and candidate.status is Status.PENDING
        status = Status.CONFIRMED if confirmed else candidate.status
        entry = replace(
            candidate,
            status=status,
            changes=stored.changes + 1,
            invalidated=stored.invalidated,
            confirmed_at=stored.confirmed_at,
            moderated_at=stored.moderated_at,
        )
        return Outcome.ACCEPTED, entry
    if (stored.partition, stored.offset, stored.index) == (
        candidate.partition,
        candidate.offset,
        candidate.index,
    ):
        return Outcome.REPLAYED, stored
    if stored.pending:
        return Outcome.RESENT, stored
    return Outcome.DUPLICATE, stored


def confirm(stored: Winner | None, home: int, at: int = -1) -> Winner | None:
    """The entry after its signer's confirmation (at offset ``at`` of
    signatures.confirmations), or None when nothing changes (a confirmation delivered
    again, or of a signature that needed none)."""
    if stored is None:
        return Winner.placeholder(home, confirmed=True, confirmed_at=at)
    if stored.status is Status.PENDING or (
        stored.is_placeholder and stored.status is not Status.CONFIRMED
    ):
        return replace(stored, status=Status.CONFIRMED, changes=stored.changes + 1, confirmed_at=at)
    return None


def moderate(stored: Winner | None, home: int, *, invalidate: bool, at: int = -1) -> Winner | None:
    """The entry after ops invalidated (or reinstated) it (at offset ``at`` of
    signatures.moderations), or None when nothing changes (the same action again). A
    moderation read before its signature is kept in a placeholder that the signature
    takes over."""
    if stored is None:
        if not invalidate:
            return None
        return Winner.placeholder(home, confirmed=False, invalidated=True, moderated_at=at)
    if stored.invalidated == invalidate:
        return None
    return replace(stored, invalidated=invalidate, changes=stored.changes + 1, moderated_at=at)


def duplicate_detail(petition_id: str, winner: Winner) -> str:
    return (
        f"this email already signed petition {petition_id} "
        f"(the signature at signatures.submitted {winner.position})"
    )


PartialKey = tuple[str, int]  # petition, home partition


class PartialCounts:
    """Counted and pending signatures per country of each (petition, partition): the
    dedupe stage's share of the totals, published as absolute numbers, one record per
    (petition, partition), with the partition's version.

    Everything is *derived* from the dedupe entries (``rebuild``): a set of entries
    replayed twice is the same set, so a number never runs ahead of the entries it
    stands for. Numbers may fall (a pending signature confirmed), so reports are
    ordered by the version: the sum over the partition's entries of 1 + their
    changes, which grows with every new entry and every status change and is the
    same whenever the same entries are rebuilt (docs/exactly-once.md). Each report
    carries its home partition's cut (``rules.cut``), derived from the entries too.
    """

    def __init__(self) -> None:
        self.counted: dict[PartialKey, dict[str, int]] = {}
        self.pending: dict[PartialKey, dict[str, int]] = {}
        self.versions: dict[PartialKey, int] = {}
        self.cuts: dict[int, HomeCutTracker] = {}
        self._changed: set[PartialKey] = set()

    def apply(self, petition_id: str, before: Winner | None, after: Winner) -> None:
        """Account for an entry that was ``before`` (None: new) and is now ``after``."""
        key = (petition_id, after.home)
        if before is not None:
            self._move(key, before, -1)
        self._move(key, after, +1)
        grown = 1 + after.changes - (0 if before is None else 1 + before.changes)
        self.versions[key] = self.versions.get(key, 0) + grown
        cut = self.cuts.get(after.home) or self.cuts.setdefault(after.home, HomeCutTracker())
        cut.saw(after.partition, after.offset, after.index, after.confirmed_at, after.moderated_at)
        self._changed.add(key)

    def _move(self, key: PartialKey, entry: Winner, step: int) -> None:
        if entry.counted or entry.pending:
            numbers = (self.counted if entry.counted else self.pending).setdefault(key, {})
            numbers[entry.country] = numbers.get(entry.country, 0) + step

    def total(self) -> int:
        return sum(sum(countries.values()) for countries in self.counted.values())

    @classmethod
    def rebuild(cls, winners: Iterable[tuple[bytes, bytes]]) -> PartialCounts:
        """From ``(winner key, Winner bytes)`` entries; every count is marked changed so
        that a new owner of a partition publishes it again."""
        partial = cls()
        for key, value in winners:
            partial.apply(DedupeKey.petition_of_table_key(key), None, Winner.decode(value))
        return partial

    def take_changed(self) -> list[tuple[PartialKey, PartialReport]]:
        """Each (petition, partition) whose numbers moved since the last call, with all
        its numbers (copies), and forget that they moved."""
        changed = [
            (
                key,
                PartialReport(
                    dict(self.counted.get(key, {})),
                    dict(self.pending.get(key, {})),
                    self.versions[key],
                    self.cuts[key[1]].snapshot(),
                ),
            )
            for key in sorted(self._changed)
        ]
        self._changed.clear()
        return changed


@dataclass(frozen=True, slots=True)
class PartialReport:
    """What one (petition, partition) reports: its PartialCount record's numbers."""

    counted: dict[str, int]
    pending: dict[str, int]
    version: int
    #: What the home partition's numbers covered when they were taken.
    cut: HomeCut = field(default_factory=HomeCut)
