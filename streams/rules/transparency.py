"""A petition's transparency log, as data: its leaves, a signer's receipt, and the
public audit of a whole log against the heads it signed (issue 29).

A leaf is 34 bytes: a version, a kind (a signature counted, or one removed: withdrawn
or invalidated) and a commitment, SHA-256 over the signature's random id, its country
and a salt of its own. The commitment reveals nobody: without the salt the id and the
country cannot be guessed from it, and the id names no one. A removal repeats the
commitment of the signature it removes, so anyone can check that the count is the
additions minus the removals, and that nothing left the log except through a
published removal.

Pure: the pipeline that appends leaves, the API that serves proofs and the tools that
check them all call these functions.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from streams.rules import merkle
from streams.rules.signed_note import Checkpoint, NoteError, Verifier, open_note

LEAF_VERSION = 1
LEAF_SIZE = 34
#: Separates the commitment's hash from every other SHA-256 of the project.
COMMITMENT_TAG = b"countersign/signature/v1\n"
#: The checkpoint extension line that carries the count the head vouches for.
COUNT_PREFIX = "count "
#: Separates the salt's HMAC from every other HMAC of the project.
SALT_TAG = b"countersign/salt/v1\n"
SALT_SIZE = 16


class LeafKind(IntEnum):
    ADDED = 1
    REMOVED = 2


def commitment(signature_id: str, country: str, salt: bytes) -> bytes:
    """What a leaf shows of a signature: each field length-prefixed, so no two
    different signatures share one."""
    fields = [signature_id.encode(), country.encode(), salt]
    body = b"".join(len(f).to_bytes(2, "big") + f for f in fields)
    return hashlib.sha256(COMMITMENT_TAG + body).digest()


def salt(key: bytes, signature_id: str) -> bytes:
    """A signature's salt: derived, not drawn, so that a replay of the log's input
    makes the same leaves; keyed, so that nobody without the key can test a guessed
    signature id and country against a commitment."""
    return hmac.new(key, SALT_TAG + signature_id.encode(), hashlib.sha256).digest()[:SALT_SIZE]


def signature_commitment(key: bytes, signature_id: str, country: str) -> bytes:
    """The commitment of a signature's leaves, with its salt under ``key``."""
    return commitment(signature_id, country, salt(key, signature_id))


def leaf(kind: LeafKind, committed: bytes) -> bytes:
    if len(committed) != 32:
        raise ValueError("a commitment is a SHA-256 hash")
    return bytes([LEAF_VERSION, kind]) + committed


def parse_leaf(data: bytes) -> tuple[LeafKind, bytes]:
    """(kind, commitment) of a leaf, or ValueError saying what is wrong with it."""
    if len(data) != LEAF_SIZE:
        raise ValueError(f"{len(data)} bytes, not {LEAF_SIZE}")
    if data[0] != LEAF_VERSION:
        raise ValueError(f"version {data[0]}, not {LEAF_VERSION}")
    if data[1] not in LeafKind._value2member_map_:
        raise ValueError(f"kind {data[1]} is neither added (1) nor removed (2)")
    return LeafKind(data[1]), data[2:]


def head_count(head: Checkpoint) -> int | None:
    """The count a head vouches for (its ``count N`` extension line), if any."""
    for line in head.extensions:
        number = line.removeprefix(COUNT_PREFIX)
        if number != line and number.isdigit():
            return int(number)
    return None


@dataclass
class Audit:
    """What a full audit of one log found: ``problems`` empty means it holds."""

    leaves: int = 0
    added: int = 0
    removed: int = 0
    heads: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return self.added - self.removed


def audit(leaves: Sequence[bytes], heads: Sequence[Checkpoint]) -> Audit:
    """Check every leaf, and every head against the leaves: its root, and the count it
    vouches for. A changed leaf or a leaf taken out changes the root of every head
    after it; a head that forked from the log matches no prefix of it."""
    report = Audit(leaves=len(leaves), heads=len(heads))
    counts = _replay(leaves, report)
    hashes = [merkle.leaf_hash(data) for data in leaves]
    for head in sorted(heads, key=lambda h: h.size):
        if head.size > len(leaves):
            report.problems.append(
                f"a head vouches for {head.size} leaves; the log has {len(leaves)}"
            )
            continue
        if merkle.root(hashes[: head.size]) != head.root:
            report.problems.append(
                f"the head at size {head.size} does not match the log's first {head.size} "
                "leaves: a leaf was changed or taken out, or the head forked from the log"
            )
        vouched = head_count(head)
        if vouched is not None and vouched != counts[head.size]:
            report.problems.append(
                f"the head at size {head.size} vouches for a count of {vouched}; its leaves "
                f"add up to {counts[head.size]}"
            )
    return report


def _replay(leaves: Sequence[bytes], report: Audit) -> list[int]:
    """The count after each prefix of ``leaves`` (index n: the first n), checking that
    a signature is added only while it is not counted, and removed only while it is
    (a signature reinstated after its removal is added again)."""
    live: set[bytes] = set()
    counts = [0]
    for index, data in enumerate(leaves):
        try:
            kind, committed = parse_leaf(data)
        except ValueError as exc:
            report.problems.append(f"leaf {index} is not a leaf: {exc}")
            counts.append(counts[-1])
            continue
        if kind is LeafKind.ADDED:
            if committed in live:
                report.problems.append(f"leaf {index} adds a signature the log counts already")
            else:
                live.add(committed)
                report.added += 1
        elif committed not in live:
            report.problems.append(f"leaf {index} removes a signature that is not in the log")
        else:
            live.remove(committed)
            report.removed += 1
        counts.append(report.count)
    return counts


@dataclass(frozen=True)
class Receipt:
    """What a signer keeps (format 1): enough to find their leaf and prove it is in a
    head the log signed, without trusting the server that gave it."""

    petition_id: str
    signature_id: str
    country: str
    salt: bytes
    leaf_index: int
    #: The audit path of the leaf in ``head``'s tree.
    proof: tuple[bytes, ...]
    #: The signed note of the head the proof is for.
    head: str

    def leaf(self) -> bytes:
        return leaf(LeafKind.ADDED, commitment(self.signature_id, self.country, self.salt))


def check_receipt(receipt: Receipt, verifier: Verifier) -> Checkpoint:
    """The head that proves ``receipt``, once its signature, its petition and the
    leaf's inclusion all check; ``NoteError`` saying which did not."""
    head = Checkpoint.parse(open_note(receipt.head, verifier))
    if head.origin.rsplit("/", 1)[-1] != receipt.petition_id:
        raise NoteError(f"the head is the log of {head.origin}, not of {receipt.petition_id}")
    leaf_hash = merkle.leaf_hash(receipt.leaf())
    if not merkle.verify_inclusion(
        receipt.leaf_index, head.size, leaf_hash, receipt.proof, head.root
    ):
        raise NoteError(
            f"leaf {receipt.leaf_index} is not this signature in the head of size {head.size}"
        )
    return head
