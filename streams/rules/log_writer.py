"""What a petition's transparency log appends, decided from the dedupe stage's word on
each signer (issue 29, docs/transparency.md).

The dedupe stage says, whenever it handles an event about a signer whose entry has a
commitment, whether that signature counts now, with the entry's ``changes`` (which
grows by one with every change to the entry). It says so again on every redelivery,
and a worker that lost its partitions may say something stale late: so the log
appends a leaf only when the signer's counted state differs from the log's, and only
for a word newer than the last one that moved the log for that signer. An addition
is appended only while the signature is not counted, a removal only while it is:
delivered twice, replayed, or late, nothing is appended twice.

Pure: the single writer (``sinks.transparency``) holds one ``PetitionLog`` per
petition, rebuilt from the log's own topic when it starts (``restore``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.rules import merkle
from streams.rules.signed_note import Checkpoint, Signer
from streams.rules.transparency import COUNT_PREFIX, LeafKind, leaf, parse_leaf


@dataclass
class PetitionLog:
    """One petition's log as its writer holds it: the leaves' hashes in order (for the
    heads), the commitments counted now, and per commitment the ``changes`` of the
    word that last moved the log."""

    petition_id: str
    hashes: list[bytes] = field(default_factory=list)
    live: set[bytes] = field(default_factory=set)
    moved_by: dict[bytes, int] = field(default_factory=dict)
    #: The size of the last head signed (0: none yet).
    signed_size: int = 0

    @property
    def size(self) -> int:
        return len(self.hashes)

    @property
    def count(self) -> int:
        """The additions minus the removals: the signatures counted now."""
        return len(self.live)

    def decide(self, committed: bytes, counted: bool, changes: int) -> bytes | None:
        """The leaf to append for the dedupe stage's word that the signature of
        ``committed`` counts (or not) as of its entry's ``changes``; None when the log
        says so already, or the word is not newer than the last that moved it."""
        if changes <= self.moved_by.get(committed, -1):
            return None
        if counted == (committed in self.live):
            return None
        return leaf(LeafKind.ADDED if counted else LeafKind.REMOVED, committed)

    def append(self, data: bytes, changes: int) -> int:
        """Take a leaf ``decide`` gave (or one read back from the log's topic, with the
        ``changes`` it was appended for); its index."""
        kind, committed = parse_leaf(data)
        if kind is LeafKind.ADDED:
            self.live.add(committed)
        else:
            self.live.discard(committed)
        self.moved_by[committed] = changes
        self.hashes.append(merkle.leaf_hash(data))
        return len(self.hashes) - 1

    restore = append

    @property
    def unsigned(self) -> bool:
        """Whether the log grew since its last signed head."""
        return self.size > self.signed_size

    def checkpoint(self, origin: str) -> Checkpoint:
        """The head of the log as it is: ``origin``/petition, size, root and count."""
        return Checkpoint(
            f"{origin}/{self.petition_id}",
            self.size,
            merkle.root(self.hashes),
            (f"{COUNT_PREFIX}{self.count}",),
        )

    def sign(self, origin: str, signer: Signer) -> str:
        """The signed note of the log's head now (noting that it is signed)."""
        note = signer.sign(self.checkpoint(origin).text())
        self.signed_size = self.size
        return note
