"""Confirmation in the dedupe stage, on records and a dict, without Faust or Kafka: a
pending signature asks for a mail and counts only once confirmed; signing again while
pending asks for the mail again; a confirmation is counted once, in whichever order
the two topics are read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.codec import AvroCodec
from streams.rules.keys import DedupeKey, submission_key_for
from streams.rules.ledger import DedupeLedger
from streams.rules.outputs import Output, Route
from streams.rules.petitions import Confirmation, PetitionWindow
from streams.rules.placement import home_partition
from streams.rules.stages import validate_record
from streams.rules.verdict import Accepted, Rejected, SourcePosition, judge
from tests.unit.submissions import submission_at

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OPENS = datetime(2026, 1, 1, tzinfo=UTC)
PETITIONS = {
    "confirm": PetitionWindow("confirm", OPENS, None, Confirmation.EMAIL),
    "open": PetitionWindow("open", OPENS, None, Confirmation.NONE),
}
PARTITIONS = 6
MAIL = AvroCodec("ConfirmationMail")
CONFIRMED = AvroCodec("SignatureConfirmed")


def submission(email: str, petition: str = "confirm", **changes: Any) -> tuple[bytes, bytes]:
    signature_id = f"sig-{email}-{changes.pop('n', 0)}"
    return submission_at(NOW, email, petition, signature_id=signature_id, locale="ar", **changes)


def home_of(email: str, petition: str = "confirm") -> int:
    return home_partition(submission_key_for(petition, email), PARTITIONS)


def judge_at(key: bytes | None, value: bytes | None, at: SourcePosition) -> Accepted | Rejected:
    return judge(value, key, at, petitions=PETITIONS, now=NOW, hash_key=b"k")


def run(
    ledger: DedupeLedger, partition: int, offset: int, key: bytes, value: bytes
) -> list[Output]:
    at = SourcePosition("signatures.submitted", partition, offset)
    return list(
        validate_record(
            at, key, value, judge=judge_at, ledger=ledger, partitions=PARTITIONS, now=lambda: NOW
        )
    )


def dedupe_key_of(output: Output) -> DedupeKey:
    return DedupeKey.parse(output.key)


def confirmation(ledger: DedupeLedger, key: DedupeKey, home: int, offset: int = 0) -> Output | None:
    value = CONFIRMED.encode(
        {
            "petition_id": key.petition_id,
            "email_hash": key.email_hash,
            "signature_id": "sig",
            "confirmed_at": NOW,
            "source": "link",
        }
    )
    at = SourcePosition("signatures.confirmations", home, offset)
    outputs = ledger.confirmation(key.encode(), value, at, NOW)
    return outputs[0] if outputs else None


def test_a_signature_that_must_confirm_is_accepted_pending_and_asks_for_a_mail() -> None:
    ledger = DedupeLedger({})
    accepted, mail = run(ledger, home_of("a@example.org"), 7, *submission(" a@example.org "))
    assert (accepted.route, mail.route) == (Route.ACCEPTED, Route.OUTBOX)
    request = MAIL.decode(mail.value)
    assert (request["kind"], request["email"], request["locale"]) == (
        "first",
        "a@example.org",
        "ar",
    )
    assert request["home_partition"] == home_of("a@example.org")
    assert ledger.partial.total() == 0
    [(_, report)] = ledger.partial.take_changed()
    assert report.pending == {"SY": 1}


def test_a_signature_that_needs_no_confirmation_asks_for_no_mail() -> None:
    [accepted] = run(
        DedupeLedger({}), home_of("a@example.org", "open"), 7, *submission("a@example.org", "open")
    )
    assert accepted.route is Route.ACCEPTED


def test_a_confirmation_counts_a_pending_signature_once() -> None:
    ledger = DedupeLedger({})
    home = home_of("a@example.org")
    accepted, _ = run(ledger, home, 7, *submission("a@example.org"))
    assert confirmation(ledger, dedupe_key_of(accepted), home) is None
    assert confirmation(ledger, dedupe_key_of(accepted), home, offset=1) is None  # the link again
    assert ledger.partial.total() == 1


def test_signing_again_while_pending_asks_for_the_mail_again_and_counts_nothing() -> None:
    ledger = DedupeLedger({})
    home = home_of("a@example.org")
    run(ledger, home, 7, *submission("a@example.org"))
    [again] = run(ledger, home, 8, *submission("A@example.org", n=1))
    assert again.route is Route.OUTBOX
    assert MAIL.decode(again.value)["kind"] == "resend"
    assert (ledger.partial.total(), sum(ledger.partial.pending[("confirm", home)].values())) == (
        0,
        1,
    )


def test_signing_again_once_confirmed_is_a_duplicate() -> None:
    ledger = DedupeLedger({})
    home = home_of("a@example.org")
    accepted, _ = run(ledger, home, 7, *submission("a@example.org"))
    confirmation(ledger, dedupe_key_of(accepted), home)
    [again] = run(ledger, home, 8, *submission("a@example.org", n=1))
    assert (again.route, again.verdict) == (Route.DUPLICATES, "duplicate")


def test_a_pending_winner_redelivered_asks_for_the_same_mail_again() -> None:
    ledger = DedupeLedger({})
    home = home_of("a@example.org")
    _, first = run(ledger, home, 7, *submission("a@example.org"))
    replayed, again = run(ledger, home, 7, *submission("a@example.org"))
    assert replayed.verdict == "replayed"
    assert MAIL.decode(again.value)["request_id"] == MAIL.decode(first.value)["request_id"]


def test_a_confirmed_winner_redelivered_stays_confirmed_and_asks_for_no_mail() -> None:
    ledger = DedupeLedger({})
    home = home_of("a@example.org")
    accepted, _ = run(ledger, home, 7, *submission("a@example.org"))
    confirmation(ledger, dedupe_key_of(accepted), home)
    [replayed] = run(ledger, home, 7, *submission("a@example.org"))
    assert replayed.verdict == "replayed"
    assert ledger.partial.total() == 1


def test_a_confirmation_read_before_its_signature_counts_it_when_it_comes() -> None:
    in_order, reversed_order = DedupeLedger({}), DedupeLedger({})
    home = home_of("a@example.org")
    accepted, _ = run(in_order, home, 7, *submission("a@example.org"))
    key = dedupe_key_of(accepted)
    confirmation(in_order, key, home)
    confirmation(reversed_order, key, home)
    [late] = run(reversed_order, home, 7, *submission("a@example.org"))
    assert late.route is Route.ACCEPTED  # confirmed already: no mail
    assert reversed_order.partial.total() == in_order.partial.total() == 1
    assert reversed_order.partial.versions == in_order.partial.versions


def test_a_pending_signature_sent_home_carries_its_address_and_asks_for_the_mail_there() -> None:
    ledger = DedupeLedger({})
    home = home_of("a@example.org")
    [sent] = run(ledger, (home + 1) % PARTITIONS, 7, *submission("a@example.org"))
    assert sent.route is Route.VALID
    at = SourcePosition("signatures.valid", home, 0)
    accepted, mail = ledger.settle_sent_home(sent.key, sent.value, sent.headers, at, NOW)
    assert (accepted.route, MAIL.decode(mail.value)["email"]) == (Route.ACCEPTED, "a@example.org")


def test_a_confirmation_that_cannot_be_read_is_a_dead_letter() -> None:
    at = SourcePosition("signatures.confirmations", 0, 0)
    (output,) = DedupeLedger({}).confirmation(b"confirm:zz", b"junk", at, NOW)
    assert (output.route, output.verdict) == (Route.REJECTED, "malformed")


def test_a_confirmation_delivered_again_writes_its_entry_again() -> None:
    """The local store may be ahead of its changelog after a crash: the entry is
    written again so that the changelog surely has it (docs/exactly-once.md)."""

    class Recording(dict[bytes, bytes]):
        writes = 0

        def __setitem__(self, key: bytes, value: bytes) -> None:
            Recording.writes += 1
            super().__setitem__(key, value)

    table = Recording()
    ledger = DedupeLedger(table)
    home = home_of("a@example.org")
    accepted, _ = run(ledger, home, 7, *submission("a@example.org"))
    confirmation(ledger, dedupe_key_of(accepted), home)
    before = Recording.writes
    confirmation(ledger, dedupe_key_of(accepted), home, offset=1)
    assert Recording.writes == before + 1
    assert ledger.partial.total() == 1
