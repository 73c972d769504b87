"""How far into the log a count has counted: its *cut*.

A live count moves while an auditor recounts the log, so a recount "up to now" never
agrees with it. Every count therefore carries the log positions it covers, and
``countersign reconcile`` recounts up to exactly those (docs/operations.md).

A dedupe partition's numbers are a function of its winners table alone, and so is its
cut (``HomeCut.of_entries``): no clock, no consumer position, so a restart rebuilds the
very cut its numbers stand for. Per home partition it holds

* for each partition of signatures.submitted, the position just after the last
  submission that became a winner there: a partition's submissions reach their home in
  log order, so every submission before it was settled, and one at or after it was
  either not yet read or changed nothing (a duplicate, a resend);
* on signatures.confirmations and signatures.moderations (read at home too), the
  offset just after the last record that changed an entry.

A count of a petition sums several home partitions, each reported at its own moment:
its cut is one ``HomeCut`` per home partition (``Cut``); a home partition that never
reported for the petition counts nothing there, which is what an empty cut recounts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: A position in signatures.submitted: (offset, index in the record's batch).
Position = tuple[int, int]


@dataclass(frozen=True)
class HomeCut:
    """What one home partition's numbers cover (see the module's docstring)."""

    #: Partition of signatures.submitted -> the position just after its last winner.
    submitted: Mapping[int, Position] = field(default_factory=dict)
    #: Offsets just after the last record that changed an entry, at this home.
    confirmations: int = 0
    moderations: int = 0

    @property
    def extent(self) -> int:
        """How far the cut reaches, as one number: a home partition's cuts only grow,
        so of two of its cuts the one with the larger extent is the later."""
        return sum(o for o, _ in self.submitted.values()) + self.confirmations + self.moderations

    def covers_submission(self, partition: int, offset: int, index: int) -> bool:
        return (offset, index) < self.submitted.get(partition, (0, 0))

    def covers_confirmation(self, offset: int) -> bool:
        return offset < self.confirmations

    def covers_moderation(self, offset: int) -> bool:
        return offset < self.moderations

    def as_record(self, home: int) -> dict[str, Any]:
        """The Avro ``HomeCut`` record (schemas/avro/PartialCount.v3.avsc)."""
        return {
            "home": home,
            "submitted": [
                {"partition": p, "offset": o, "index": i}
                for p, (o, i) in sorted(self.submitted.items())
            ],
            "confirmations": self.confirmations,
            "moderations": self.moderations,
        }

    @classmethod
    def of_record(cls, record: Mapping[str, Any]) -> HomeCut:
        return cls(
            {int(s["partition"]): (int(s["offset"]), int(s["index"])) for s in record["submitted"]},
            int(record["confirmations"]),
            int(record["moderations"]),
        )


class HomeCutTracker:
    """The cut of one home partition's entries, kept as they are written: every bound
    is a maximum over entries, so it only grows and equals a rebuild from the table."""

    def __init__(self) -> None:
        self.submitted: dict[int, Position] = {}
        self.confirmations = 0
        self.moderations = 0

    def saw(self, partition: int, offset: int, index: int, confirmed: int, moderated: int) -> None:
        """An entry as written: its winner's position (``partition`` -1 for a
        placeholder) and the offsets of the last confirmation and moderation that
        changed it (-1: none)."""
        if partition >= 0:
            after = (offset, index + 1)
            if after > self.submitted.get(partition, (0, 0)):
                self.submitted[partition] = after
        self.confirmations = max(self.confirmations, confirmed + 1)
        self.moderations = max(self.moderations, moderated + 1)

    def snapshot(self) -> HomeCut:
        return HomeCut(dict(self.submitted), self.confirmations, self.moderations)


@dataclass(frozen=True)
class Cut:
    """The cut of a count that sums several home partitions: one ``HomeCut`` each."""

    homes: Mapping[int, HomeCut] = field(default_factory=dict)

    @property
    def extent(self) -> int:
        return sum(home.extent for home in self.homes.values())

    def home(self, partition: int) -> HomeCut:
        """A home partition's cut; an empty one for a home that never reported."""
        return self.homes.get(partition, EMPTY)

    def as_records(self) -> list[dict[str, Any]]:
        return [cut.as_record(home) for home, cut in sorted(self.homes.items())]

    @classmethod
    def of_records(cls, records: list[Mapping[str, Any]]) -> Cut:
        return cls({int(r["home"]): HomeCut.of_record(r) for r in records})

    def to_json(self) -> str:
        """Compact JSON (ClickHouse's ``regional_counts.covers``, the API's ``cut``):
        ``{home: {"s": {partition: [offset, index]}, "c": offset, "m": offset}}``."""
        return json.dumps(
            {
                str(home): {
                    "s": {str(p): list(pos) for p, pos in sorted(cut.submitted.items())},
                    "c": cut.confirmations,
                    "m": cut.moderations,
                }
                for home, cut in sorted(self.homes.items())
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Cut:
        return cls.from_object(json.loads(text or "{}"))

    @classmethod
    def from_json_object(cls, raw: Mapping[str, Any] | None) -> Cut | None:
        """A cut as the API gives it, already parsed; None for one not known."""
        return None if raw is None else cls.from_object(raw)

    @classmethod
    def from_object(cls, raw: Mapping[str, Any]) -> Cut:
        return cls(
            {
                int(home): HomeCut(
                    {int(p): (int(pos[0]), int(pos[1])) for p, pos in cut["s"].items()},
                    int(cut["c"]),
                    int(cut["m"]),
                )
                for home, cut in raw.items()
            }
        )


EMPTY = HomeCut()
