"""A petition's transparency log (streams/rules/transparency.py): the leaf format, and
the public audit that catches a tampered leaf, a leaf taken out and a forked head."""

from __future__ import annotations

import hashlib

import pytest

from streams.rules import merkle
from streams.rules.signed_note import Checkpoint
from streams.rules.transparency import (
    LeafKind,
    audit,
    commitment,
    head_count,
    leaf,
    parse_leaf,
)

ORIGIN = "countersign.example/syria-icc"


def test_a_commitment_is_sha256_of_the_tag_and_the_length_prefixed_fields() -> None:
    salt = bytes(range(16))
    expected = hashlib.sha256(
        b"countersign/signature/v1\n" + b"\x00\x05sig-1" + b"\x00\x02FR" + b"\x00\x10" + salt
    ).digest()
    assert commitment("sig-1", "FR", salt) == expected


def test_a_leaf_is_its_version_its_kind_and_the_commitment() -> None:
    committed = commitment("sig-1", "FR", bytes(16))
    assert leaf(LeafKind.ADDED, committed) == b"\x01\x01" + committed
    assert leaf(LeafKind.REMOVED, committed) == b"\x01\x02" + committed
    assert parse_leaf(b"\x01\x02" + committed) == (LeafKind.REMOVED, committed)


@pytest.mark.parametrize(
    ("data", "why"),
    [(b"\x01\x01" + bytes(31), "33 bytes"), (b"\x02\x01" + bytes(32), "version 2"),
     (b"\x01\x07" + bytes(32), "kind 7")],
)  # fmt: skip
def test_a_malformed_leaf_says_what_is_wrong(data: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_leaf(data)


def signatures(n: int) -> list[bytes]:
    return [
        commitment(f"sig-{i}", "FR" if i % 2 else "BR", i.to_bytes(16, "big")) for i in range(n)
    ]


def honest_log() -> list[bytes]:
    """Ten signatures added, the fourth removed after them, two more added."""
    c = signatures(12)
    return [
        *(leaf(LeafKind.ADDED, x) for x in c[:10]),
        leaf(LeafKind.REMOVED, c[3]),
        *(leaf(LeafKind.ADDED, x) for x in c[10:]),
    ]


def head(leaves: list[bytes], size: int, count: int | None = None) -> Checkpoint:
    root = merkle.root([merkle.leaf_hash(d) for d in leaves[:size]])
    extensions = () if count is None else (f"count {count}",)
    return Checkpoint(ORIGIN, size, root, extensions)


def test_an_honest_log_passes_and_its_count_is_the_additions_minus_the_removals() -> None:
    log = honest_log()
    report = audit(log, [head(log, 5, 5), head(log, 11, 9), head(log, 13, 11)])
    assert report.problems == []
    assert (report.added, report.removed, report.count) == (12, 1, 11)


def test_a_tampered_leaf_is_caught_by_every_head_after_it() -> None:
    log = honest_log()
    heads = [head(log, 5), head(log, 11), head(log, 13)]
    log[7] = leaf(LeafKind.ADDED, commitment("forged", "FR", bytes(16)))
    problems = audit(log, heads).problems
    assert len(problems) == 2
    assert all("leaf was changed or taken out" in p for p in problems)


def test_a_leaf_taken_out_is_caught() -> None:
    log = honest_log()
    heads = [head(log, 13)]
    del log[10]  # the removal, hidden: the count would go up by one
    problems = audit(log, heads).problems
    assert problems == ["a head vouches for 13 leaves; the log has 12"]


def test_a_forked_head_is_caught() -> None:
    log = honest_log()
    fork = [*log[:8], leaf(LeafKind.ADDED, commitment("other", "JP", bytes(16)))]
    problems = audit(log, [head(log, 8), head(fork, 9)]).problems
    assert problems == [
        "the head at size 9 does not match the log's first 9 leaves: a leaf was changed "
        "or taken out, or the head forked from the log"
    ]


def test_a_head_that_overstates_its_count_is_caught() -> None:
    log = honest_log()
    problems = audit(log, [head(log, 11, count=10)]).problems
    assert problems == ["the head at size 11 vouches for a count of 10; its leaves add up to 9"]
    assert head_count(head(log, 11, count=10)) == 10


def test_a_signature_added_twice_or_removed_unadded_is_caught() -> None:
    c = signatures(2)
    log = [leaf(LeafKind.ADDED, c[0]), leaf(LeafKind.ADDED, c[0]), leaf(LeafKind.REMOVED, c[1])]
    report = audit(log, [])
    assert report.problems == [
        "leaf 1 adds a signature the log counts already",
        "leaf 2 removes a signature that is not in the log",
    ]
    assert report.count == 1


def test_a_signature_reinstated_after_its_removal_is_added_again() -> None:
    (c,) = signatures(1)
    log = [leaf(LeafKind.ADDED, c), leaf(LeafKind.REMOVED, c), leaf(LeafKind.ADDED, c)]
    report = audit(log, [])
    assert report.problems == []
    assert (report.added, report.removed, report.count) == (2, 1, 1)
