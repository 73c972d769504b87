"""One accepted signature per dedupe key; the first in stream order wins.

The dedupe key alone decides (docs/architecture.md): a signature_id never does, so no
outcome depends on how many partitions there are. The dedupe stage remembers one
``Winner`` per key, which is also all it needs to count its winners per
(petition, country) (``PartialCounts``) and to tell its own redelivery of a winner
from a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

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


@dataclass(frozen=True, slots=True)
class Winner:
    """What the dedupe table remembers of an accepted signature: where it sits in the
    audit log (to recognise its redelivery), its country (to count it) and its home
    partition, the table partition it lives in (to count it there after a restart)."""

    country: str
    partition: int  # of signatures.submitted
    offset: int
    home: int  # the signer's home partition (rules.keys)
    index: int = 0  # in a record that carries several submissions (schemas.batch)

    def encode(self) -> bytes:
        """``country partition offset home [index]``: the index only when it is not 0,
        so entries written before batches existed read the same."""
        text = f"{self.country} {self.partition} {self.offset} {self.home}"
        return (f"{text} {self.index}" if self.index else text).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Winner:
        country, partition, offset, home, *index = raw.split(b" ")
        return cls(
            country.decode(), int(partition), int(offset), int(home), int(index[0]) if index else 0
        )

    @classmethod
    def of(cls, accepted: dict[str, object], home: int) -> Winner:
        """The candidate of a SignatureAccepted record whose signer lives on ``home``."""
        return cls(
            str(accepted["country"]),
            int(accepted["source_partition"]),  # type: ignore[call-overload]
            int(accepted["source_offset"]),  # type: ignore[call-overload]
            home,
            int(accepted.get("source_index") or 0),  # type: ignore[call-overload]
        )

    @property
    def position(self) -> str:
        """``partition/offset``, and ``#index`` for an item of a batch."""
        at = f"{self.partition}/{self.offset}"
        return f"{at}#{self.index}" if self.index else at


def decide(candidate: Winner, stored: Winner | None) -> Outcome:
    """The fate of a valid signature given the winner stored for its dedupe key. Only
    the very same submission (partition, offset and index) is a replay: two items of
    one batch with the same dedupe key are a winner and a duplicate."""
    if stored is None:
        return Outcome.ACCEPTED
    if (stored.partition, stored.offset, stored.index) == (
        candidate.partition,
        candidate.offset,
        candidate.index,
    ):
        return Outcome.REPLAYED
    return Outcome.DUPLICATE


def duplicate_detail(petition_id: str, winner: Winner) -> str:
    return (
        f"this email already signed petition {petition_id} "
        f"(the signature at signatures.submitted {winner.position})"
    )


PartialKey = tuple[str, int]  # petition, home partition


class PartialCounts:
    """Winners per country of each (petition, partition): the dedupe stage's share of
    the totals, published as absolute numbers, one record per (petition, partition).

    The numbers are *derived* from the winners table (``rebuild``) and grow only when a
    key is new: a set replayed twice is the same set, so a count never runs ahead of
    the winners it stands for, and a number published twice is the same number.
    """

    def __init__(self) -> None:
        self.counts: dict[PartialKey, dict[str, int]] = {}
        self._changed: set[PartialKey] = set()

    def add(self, petition_id: str, country: str, partition: int) -> None:
        key = (petition_id, partition)
        countries = self.counts.setdefault(key, {})
        countries[country] = countries.get(country, 0) + 1
        self._changed.add(key)

    def total(self) -> int:
        return sum(sum(countries.values()) for countries in self.counts.values())

    @classmethod
    def rebuild(cls, winners: Iterable[tuple[bytes, bytes]]) -> PartialCounts:
        """From ``(winner key, Winner bytes)`` entries; every count is marked changed so
        that a new owner of a partition publishes it again."""
        partial = cls()
        for key, value in winners:
            winner = Winner.decode(value)
            partial.add(DedupeKey.petition_of_table_key(key), winner.country, winner.home)
        return partial

    def take_changed(self) -> list[tuple[PartialKey, dict[str, int]]]:
        """Each (petition, partition) whose numbers moved since the last call, with all
        its numbers (a copy), and forget that they moved."""
        changed = [(key, dict(self.counts[key])) for key in sorted(self._changed)]
        self._changed.clear()
        return changed
