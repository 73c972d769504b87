"""With the public log on, the dedupe stage says on transparency.changes whether each
signer's signature counts, with its entry's ``changes``: when it is accepted, again on
every redelivery, and when a confirmation or a moderation changes it. Fed to the
log's writer, these words make a log whose count is the stage's count."""

from __future__ import annotations

from schemas.codec import AvroCodec
from streams.rules.dedupe import Status, Winner
from streams.rules.ledger import DedupeLedger
from streams.rules.log_writer import PetitionLog
from streams.rules.outputs import Output, Route
from streams.rules.transparency import signature_commitment
from streams.rules.verdict import SourcePosition
from tests.unit.test_confirmation_stages import (
    CONFIRMED,
    NOW,
    confirmation,
    dedupe_key_of,
    home_of,
    run,
    submission,
)

WORD = AvroCodec("LogChange")
MODERATED = AvroCodec("SignatureModerated")
KEY = b"salt-key" * 4


def logged_ledger() -> DedupeLedger:
    return DedupeLedger(
        {}, leaf_of=lambda r: signature_commitment(KEY, r["signature_id"], r["country"])
    )


def words(outputs: list[Output]) -> list[dict[str, object]]:
    return [WORD.decode(o.value) for o in outputs if o.route is Route.LOG]


def sign(ledger: DedupeLedger, email: str, petition: str, offset: int = 0) -> list[Output]:
    return run(ledger, home_of(email, petition), offset, *submission(email, petition))


def test_an_accepted_signature_is_said_to_count_with_its_commitment() -> None:
    outputs = sign(logged_ledger(), "a@example.org", "open")
    (word,) = words(outputs)
    # The country as the worker normalized it: the form's "sy" is "SY".
    expected = signature_commitment(KEY, "sig-a@example.org-0", "SY")
    assert (word["petition_id"], word["commitment"]) == ("open", expected)
    assert (word["counted"], word["changes"]) == (True, 0)
    (accepted,) = [o for o in outputs if o.route is Route.ACCEPTED]
    assert Route.LOG.value == "transparency.changes"
    assert accepted.key != outputs[-1].key  # the word is keyed by petition
    assert outputs[-1].key == b"open"


def test_without_the_log_nothing_is_said_and_the_entry_is_as_before() -> None:
    ledger = DedupeLedger({})
    assert words(sign(ledger, "a@example.org", "open")) == []
    (stored,) = ledger.winners.values()
    assert b" l" not in stored


def test_a_redelivery_says_the_same_again_and_a_duplicate_says_nothing() -> None:
    ledger = logged_ledger()
    first = words(sign(ledger, "a@example.org", "open"))
    again = words(sign(ledger, "a@example.org", "open"))  # the same record, after a crash
    assert again == first
    duplicate = run(
        ledger, home_of("a@example.org", "open"), 5, *submission("a@example.org", "open", n=1)
    )
    assert words(duplicate) == []


def test_a_pending_signature_counts_in_the_log_once_confirmed() -> None:
    ledger = logged_ledger()
    outputs = sign(ledger, "b@example.org", "confirm")
    (pending,) = words(outputs)
    assert (pending["counted"], pending["changes"]) == (False, 0)
    key = dedupe_key_of(outputs[0])
    confirmed = confirmation(ledger, key, home_of("b@example.org"))
    assert confirmed is not None
    word = WORD.decode(confirmed.value)
    assert (word["counted"], word["changes"]) == (True, 1)
    assert word["commitment"] == pending["commitment"]
    assert CONFIRMED  # the confirmation's codec, shared with the confirmation tests


def test_an_invalidation_says_it_no_longer_counts_and_the_log_removes_it() -> None:
    ledger = logged_ledger()
    outputs = sign(ledger, "c@example.org", "open")
    key = dedupe_key_of(outputs[0])
    moderation = MODERATED.encode(
        {
            "petition_id": "open",
            "email_hash": key.email_hash,
            "signature_id": "sig-c@example.org-0",
            "action": "invalidate",
            "batch_id": "b1",
            "reason": "fraud",
            "actor": "ops",
            "at": NOW,
        }
    )
    at = SourcePosition("signatures.moderations", home_of("c@example.org", "open"), 0)
    (invalidated,) = words(ledger.moderation(key.encode(), moderation, at, NOW))
    assert (invalidated["counted"], invalidated["changes"]) == (False, 1)
    log = PetitionLog("open")
    for word in [*words(outputs), invalidated, *words(outputs)]:  # and a stale one, late
        leaf = log.decide(word["commitment"], word["counted"], word["changes"])  # type: ignore[arg-type]
        if leaf is not None:
            log.append(leaf, word["changes"])  # type: ignore[arg-type]
    assert (log.size, log.count) == (2, 0)


def test_an_entry_keeps_its_commitment_through_the_table_and_old_entries_read_as_before() -> None:
    leaf = bytes(range(32))
    entry = Winner("FR", 3, 1234, 2, leaf=leaf)
    assert Winner.decode(entry.encode()) == entry
    confirmed = Winner("FR", 3, 1234, 2, 1, Status.CONFIRMED, 1, confirmed_at=7, leaf=leaf)
    assert Winner.decode(confirmed.encode()) == confirmed
    assert Winner.decode(b"FR 3 1234 2") == Winner("FR", 3, 1234, 2)
    assert Winner("FR", 3, 1234, 2).encode() == b"FR 3 1234 2"
