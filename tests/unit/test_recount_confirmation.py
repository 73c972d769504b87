"""The recount with confirmations: a winner of a petition that asks for confirmation
counts once signatures.confirmations holds one for its signer, and is pending until
then; a re-sign before the confirmation is a resend, after it a duplicate."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from schemas.codec import codec
from streams.audit.recount import CLOSE_CALL_SECONDS, Recount, confirmation_times
from streams.core.logscan import LogRecord
from streams.rules.email import email_hash, normalize_email
from streams.rules.keys import DedupeKey, submission_key_for
from streams.rules.petitions import Confirmation, PetitionWindow

HASH_KEY = b"recount-test-key"
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
WINDOWS = {"p": PetitionWindow("p", T0 - timedelta(days=1), None, Confirmation.EMAIL)}


def signed(offset: int, email: str, at: float, country: str = "SY") -> LogRecord:
    value = codec("SignatureSubmitted").encode(
        {
            "signature_id": f"s{offset}",
            "petition_id": "p",
            "full_name": "Amina",
            "email": email,
            "country": country,
            "postal_code": None,
            "consent_to_publish_name": True,
            "submitted_at": T0,
            "source": "web-form",
            "client_ip": None,
            "user_agent": None,
            "locale": None,
            "referrer": None,
        }
    )
    return LogRecord(0, offset, T0.timestamp() + at, submission_key_for("p", email), value)


def key_of(email: str) -> DedupeKey:
    return DedupeKey("p", email_hash(normalize_email(email), HASH_KEY))


def confirmed(email: str, at: float, offset: int = 0) -> LogRecord:
    key = key_of(email)
    value = codec("SignatureConfirmed").encode(
        {
            "petition_id": "p",
            "email_hash": key.email_hash,
            "signature_id": "s",
            "confirmed_at": T0,
            "source": "link",
        }
    )
    return LogRecord(0, offset, T0.timestamp() + at, key.encode(), value)


def recount(submitted: list[LogRecord], confirmations: list[LogRecord]) -> Recount:
    times = confirmation_times(confirmations)
    return Recount.of(submitted, WINDOWS, HASH_KEY, "signatures.submitted", confirmations=times)


def test_a_winner_without_a_confirmation_is_pending_not_counted() -> None:
    result = recount([signed(0, "a@example.org", 0)], [])
    assert (result.counts(), result.pending()) == (Counter(), Counter({"p": 1}))


def test_a_confirmed_winner_counts() -> None:
    result = recount([signed(0, "a@example.org", 0)], [confirmed("a@example.org", 100)])
    assert result.counts() == Counter({("p", "Middle East and North Africa", "SY"): 1})
    assert result.pending() == Counter()


def test_a_resign_before_the_confirmation_is_a_resend_after_it_a_duplicate() -> None:
    log = [
        signed(0, "a@example.org", 0),
        signed(1, "A@example.org", 200),  # pending then: the mail again
        signed(2, "a@example.org", 900),  # confirmed at 500: a duplicate
    ]
    result = recount(log, [confirmed("a@example.org", 500)])
    assert result.rejected == Counter({("p", "duplicate"): 1})
    assert not result.close_calls


def test_a_resign_close_to_the_confirmation_is_a_close_call() -> None:
    log = [signed(0, "a@example.org", 0), signed(1, "a@example.org", 510)]
    result = recount(log, [confirmed("a@example.org", 500)])
    assert CLOSE_CALL_SECONDS > 10
    assert result.close_calls == Counter({("p", "duplicate"): 1})


def test_the_first_confirmation_of_a_signer_is_the_one_that_counts() -> None:
    times = confirmation_times([confirmed("a@example.org", 500), confirmed("a@example.org", 90, 1)])
    assert times == {key_of("a@example.org").encode(): T0.timestamp() + 90}


def test_a_confirmation_whose_key_names_another_signer_confirms_nothing() -> None:
    forged = confirmed("a@example.org", 10)
    other = LogRecord(0, 1, forged.timestamp, key_of("b@example.org").encode(), forged.value)
    assert confirmation_times([other]) == {}
