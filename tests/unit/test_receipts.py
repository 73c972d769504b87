"""A signer's receipt (streams/rules/transparency.py, receipt_file.py) and
``countersign verify-receipt``: it holds for the signature it names, and fails for a
changed salt, another key, another petition or another leaf."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from streams.rules import merkle, receipt_file
from streams.rules.signed_note import Checkpoint, NoteError, Signer
from streams.rules.transparency import LeafKind, Receipt, check_receipt, commitment, leaf
from tests.conftest import REPO

LOG_KEY = Signer("countersign.example", bytes(range(32)))
PETITION = "syria-icc"


def receipt_for(index: int, size: int = 7, petition: str = PETITION) -> Receipt:
    """A log of ``size`` signatures, its head signed by LOG_KEY, and the receipt of
    signature ``index``."""
    salts = [i.to_bytes(16, "big") for i in range(size)]
    leaves = [leaf(LeafKind.ADDED, commitment(f"sig-{i}", "FR", salts[i])) for i in range(size)]
    hashes = [merkle.leaf_hash(data) for data in leaves]
    head = Checkpoint(
        f"countersign.example/{petition}", size, merkle.root(hashes), (f"count {size}",)
    )
    return Receipt(
        petition_id=PETITION,
        signature_id=f"sig-{index}",
        country="FR",
        salt=salts[index],
        leaf_index=index,
        proof=tuple(merkle.inclusion_proof(index, hashes)),
        head=LOG_KEY.sign(head.text()),
    )


def test_a_receipt_holds_for_its_signature() -> None:
    head = check_receipt(receipt_for(3), LOG_KEY.verifier)
    assert (head.size, head.origin) == (7, "countersign.example/syria-icc")


def test_a_receipt_survives_its_file_format() -> None:
    receipt = receipt_for(3)
    assert receipt_file.loads(receipt_file.dumps(receipt)) == receipt


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"salt": bytes(16)}, "is not this signature"),
        ({"country": "BR"}, "is not this signature"),
        ({"leaf_index": 4}, "is not this signature"),
        ({"petition_id": "free-press"}, "not of free-press"),
    ],
)
def test_a_changed_receipt_does_not_hold(change: dict[str, object], why: str) -> None:
    with pytest.raises(NoteError, match=why):
        check_receipt(dataclasses.replace(receipt_for(3), **change), LOG_KEY.verifier)


def test_a_head_signed_by_another_key_does_not_hold() -> None:
    with pytest.raises(NoteError, match="no signature by Other"):
        check_receipt(receipt_for(3), Signer("Other", bytes(32)).verifier)


def verify(path: Path, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", "verify-receipt", str(path), "--key", key],
        capture_output=True, text=True, cwd=REPO, check=False, timeout=60,
    )  # fmt: skip


def test_the_cli_says_the_receipt_holds_and_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "receipt.json"
    path.write_text(receipt_file.dumps(receipt_for(5)))
    run = verify(path, LOG_KEY.verifier.encode())
    assert run.returncode == 0, run.stderr
    assert "signature sig-5 is leaf 5 of countersign.example/syria-icc" in run.stdout
    assert "the log counts 7" in run.stdout


def test_the_cli_says_why_a_receipt_fails_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "receipt.json"
    path.write_text(receipt_file.dumps(dataclasses.replace(receipt_for(5), salt=bytes(16))))
    run = verify(path, LOG_KEY.verifier.encode())
    assert run.returncode == 1
    assert "leaf 5 is not this signature in the head of size 7" in run.stderr


def test_the_cli_exits_2_on_a_file_that_is_no_receipt(tmp_path: Path) -> None:
    path = tmp_path / "receipt.json"
    path.write_text('{"hello": 1}')
    assert verify(path, LOG_KEY.verifier.encode()).returncode == 2
