"""The public checks against a dishonest server (docs/transparency.md): a server that
changes a leaf, takes one out, or signs a head of another log (a fork) is caught by
``audit-log``'s check and by a receipt's check against the newest head, because every
head is checked against the published key and every leaf against a head.

The server here is a real HTTP server on loopback that serves a log as the API does
(``streams.web.log_routes``'s answers), built from leaves the test chooses.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams.audit.public_log import PublicLog, audit_log, receipt_from_log, still_in_the_log
from streams.rules.log_writer import PetitionLog
from streams.rules.signed_note import NoteError, Signer
from streams.rules.transparency import LeafKind, leaf, salt, signature_commitment
from tests.log_server import KEY, PETITION, SIGNER, Served, honest_leaves, log_server, signed_head


@pytest.fixture
def server() -> Iterator[tuple[str, list[Served]]]:
    with log_server() as running:
        yield running


def test_an_honest_log_passes_its_audit(server: tuple[str, list[Served]]) -> None:
    url, served = server
    leaves = honest_leaves(9)
    served.append(Served(leaves, signed_head(leaves)))
    result = audit_log(PublicLog(url, PETITION), SIGNER.verifier, [signed_head(leaves[:4])])
    assert result.report.problems == []
    assert (result.report.count, result.report.heads) == (9, 2)


def test_a_changed_leaf_is_caught_by_the_audit(server: tuple[str, list[Served]]) -> None:
    url, served = server
    leaves = honest_leaves(9)
    kept = signed_head(leaves[:5])  # an auditor kept this head last week
    changed = leaves.copy()
    changed[3] = leaf(LeafKind.ADDED, signature_commitment(KEY, "made-up", "SY"))
    served.append(Served(changed, signed_head(changed)))  # the server re-signs
    problems = audit_log(PublicLog(url, PETITION), SIGNER.verifier, [kept]).report.problems
    assert problems == [
        "the head at size 5 does not match the log's first 5 leaves: a leaf was changed "
        "or taken out, or the head forked from the log"
    ]


def test_a_leaf_taken_out_is_caught_by_the_audit_and_by_the_receipt(
    server: tuple[str, list[Served]],
) -> None:
    url, served = server
    leaves = honest_leaves(9)
    served.append(Served(leaves, signed_head(leaves)))
    log = PublicLog(url, PETITION)
    receipt = receipt_from_log(log, "sig-6", "SY", salt(KEY, "sig-6"), SIGNER.verifier)
    kept = signed_head(leaves)
    shorter = leaves[:6] + leaves[7:]  # sig-6 is gone, without a removal leaf
    served[0] = Served(shorter, signed_head(shorter))
    assert audit_log(log, SIGNER.verifier, [kept]).report.problems == [
        "a head vouches for 9 leaves; the log has 8"
    ]
    with pytest.raises(NoteError, match="the log shrank: 9 leaves then, 8 now"):
        still_in_the_log(log, receipt, SIGNER.verifier)


def test_a_forked_head_is_caught_by_the_receipts_check(server: tuple[str, list[Served]]) -> None:
    url, served = server
    leaves = honest_leaves(7)
    served.append(Served(leaves, signed_head(leaves)))
    log = PublicLog(url, PETITION)
    receipt = receipt_from_log(log, "sig-2", "SY", salt(KEY, "sig-2"), SIGNER.verifier)
    # The server shows a log that does not grow from the one the receipt was made in.
    forked = [*leaves[:2], *honest_leaves(12)[8:], *leaves[2:]]
    served[0] = Served(forked, signed_head(forked))
    with pytest.raises(NoteError, match="does not extend the receipt's"):
        still_in_the_log(log, receipt, SIGNER.verifier)


def test_a_head_signed_by_another_key_is_refused(server: tuple[str, list[Served]]) -> None:
    url, served = server
    leaves = honest_leaves(3)
    impostor = Signer("countersign.test", bytes(range(1, 33)))
    log = PetitionLog(PETITION)
    for data in leaves:
        log.append(data, 0)
    served.append(Served(leaves, log.sign("countersign.test", impostor)))
    with pytest.raises(NoteError):
        audit_log(PublicLog(url, PETITION), SIGNER.verifier, [])
