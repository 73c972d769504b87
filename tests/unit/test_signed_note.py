"""Signed notes and checkpoints (streams/rules/signed_note.py), against the Go note
package's own example key and note (golang.org/x/mod/sumdb/note) and the C2SP
checkpoint example: a head that other tools cannot read proves nothing to them."""

from __future__ import annotations

import base64

import pytest

from streams.rules import merkle
from streams.rules.signed_note import Checkpoint, NoteError, Signer, Verifier, open_note

GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSN"
    "XgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_the_go_example_key_gives_the_go_example_verifier_and_note() -> None:
    signer = Signer.parse(GO_SIGNER)
    assert signer.verifier.encode() == GO_VERIFIER
    assert signer.sign(GO_TEXT) == GO_NOTE


def test_the_go_example_note_opens_with_its_verifier() -> None:
    assert open_note(GO_NOTE, Verifier.parse(GO_VERIFIER)) == GO_TEXT


def test_a_changed_letter_breaks_the_signature() -> None:
    with pytest.raises(NoteError, match="does not match"):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), Verifier.parse(GO_VERIFIER))


def test_another_key_finds_no_signature_of_its_own() -> None:
    other = Signer("Other", bytes(32)).verifier
    with pytest.raises(NoteError, match="no signature by Other"):
        open_note(GO_NOTE, other)


def test_a_verifier_key_whose_hash_lies_is_refused() -> None:
    with pytest.raises(NoteError, match="hash does not match"):
        Verifier.parse(GO_VERIFIER.replace("c74f20a3", "c74f20a4"))


def test_the_c2sp_example_checkpoint_parses() -> None:
    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    checkpoint = Checkpoint.parse(text)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert checkpoint.text() == text


def test_a_signed_checkpoint_of_a_tree_round_trips_and_carries_its_extensions() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(5)]
    head = Checkpoint("countersign.example/syria-icc", 5, merkle.root(leaves), ("count 4",))
    signer = Signer("countersign.example", bytes(range(32)))
    opened = Checkpoint.parse(open_note(signer.sign(head.text()), signer.verifier))
    assert opened == head
    assert base64.b64decode(head.text().split("\n")[2]) == merkle.root(leaves)


@pytest.mark.parametrize(
    "text",
    [
        "origin\n5\n",  # no root
        "origin\n05\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  # a leading zero
        "origin\n5\nnot-base64!\n",
        "origin\n5\nAAAA\n",  # not 32 bytes
        "origin\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",  # no final newline
    ],
)
def test_a_malformed_checkpoint_is_refused(text: str) -> None:
    with pytest.raises(NoteError):
        Checkpoint.parse(text)
