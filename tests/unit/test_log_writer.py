"""The transparency log appends a leaf only when a signer's counted state changes, and
never twice for one change: the dedupe stage's word on a signer is delivered again
after a crash, replayed, or late from a worker that lost its partitions."""

from __future__ import annotations

import hashlib

from streams.rules import merkle
from streams.rules.log_writer import PetitionLog
from streams.rules.signed_note import Checkpoint, Signer, open_note
from streams.rules.transparency import LeafKind, audit, leaf, salt, signature_commitment

A = hashlib.sha256(b"a").digest()
B = hashlib.sha256(b"b").digest()
SIGNER = Signer("countersign.test", bytes(range(32)))


def feed(log: PetitionLog, words: list[tuple[bytes, bool, int]]) -> list[bytes]:
    """Each word through ``decide`` and ``append``, as the writer does: what it appended."""
    appended = []
    for committed, counted, changes in words:
        data = log.decide(committed, counted, changes)
        if data is not None:
            log.append(data, changes)
            appended.append(data)
    return appended


def test_a_counted_signature_is_added_once_however_often_it_is_said() -> None:
    log = PetitionLog("p")
    assert feed(log, [(A, True, 0), (A, True, 0), (A, True, 0)]) == [leaf(LeafKind.ADDED, A)]
    assert (log.size, log.count) == (1, 1)


def test_a_pending_signature_is_added_when_confirmed() -> None:
    log = PetitionLog("p")
    assert feed(log, [(A, False, 0)]) == []
    assert feed(log, [(A, True, 1), (A, False, 0)]) == [leaf(LeafKind.ADDED, A)]
    assert log.count == 1


def test_an_invalidation_removes_and_a_reinstatement_adds_again() -> None:
    log = PetitionLog("p")
    appended = feed(log, [(A, True, 0), (B, True, 0), (A, False, 1), (A, True, 2)])
    assert appended == [
        leaf(LeafKind.ADDED, A),
        leaf(LeafKind.ADDED, B),
        leaf(LeafKind.REMOVED, A),
        leaf(LeafKind.ADDED, A),
    ]
    assert log.count == 2


def test_a_stale_word_after_a_newer_one_appends_nothing() -> None:
    """A worker that lost its partitions delivers what it had queued: older changes."""
    log = PetitionLog("p")
    feed(log, [(A, True, 0), (A, False, 1)])
    assert feed(log, [(A, True, 0)]) == []
    assert log.count == 0


def test_a_log_restored_from_its_leaves_decides_as_the_one_that_wrote_them() -> None:
    words = [(A, True, 0), (B, True, 0), (A, False, 1)]
    written = PetitionLog("p")
    appended = feed(written, words)
    restored = PetitionLog("p")
    for data, (_, _, changes) in zip(appended, [words[0], words[1], words[2]], strict=True):
        restored.restore(data, changes)
    assert (restored.size, restored.count) == (written.size, written.count)
    for word in [*words, (A, True, 2), (B, False, 1)]:
        assert restored.decide(*word) == written.decide(*word)


def test_every_log_it_writes_passes_the_public_audit_with_its_signed_heads() -> None:
    log = PetitionLog("syria-icc")
    heads = []
    for words in ([(A, True, 0)], [(B, True, 0), (A, False, 1)], [(A, True, 2)]):
        feed(log, words)
        assert log.unsigned
        note = log.sign("countersign.test", SIGNER)
        assert not log.unsigned
        heads.append(Checkpoint.parse(open_note(note, SIGNER.verifier)))
    leaves = [leaf(LeafKind.ADDED, A), leaf(LeafKind.ADDED, B), leaf(LeafKind.REMOVED, A)]
    leaves.append(leaf(LeafKind.ADDED, A))
    report = audit(leaves, heads)
    assert report.problems == []
    assert [h.size for h in heads] == [1, 3, 4]
    assert heads[-1].origin == "countersign.test/syria-icc"
    assert heads[-1].root == merkle.root([merkle.leaf_hash(x) for x in leaves])
    assert heads[-1].extensions == ("count 2",)


def test_the_salt_is_keyed_and_the_commitment_follows_the_signature() -> None:
    assert salt(b"k" * 32, "sig-1") == salt(b"k" * 32, "sig-1")
    assert salt(b"k" * 32, "sig-1") != salt(b"j" * 32, "sig-1")
    assert len(salt(b"k" * 32, "sig-1")) == 16
    one = signature_commitment(b"k" * 32, "sig-1", "FR")
    assert one != signature_commitment(b"k" * 32, "sig-1", "BR")
    assert one != signature_commitment(b"k" * 32, "sig-2", "FR")
