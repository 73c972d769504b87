"""Records on the worker's own topics that no stage of ours wrote (anything that can
produce to Kafka can write them) become dead letters or are skipped: none stops the
worker, and none puts an entry in the dedupe table that a later read would choke on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.codec import AvroCodec
from streams.core.errors import MalformedMessage
from streams.rules.aggregate import report_problem
from streams.rules.dedupe import WINNER_HEADER
from streams.rules.ledger import MAIL_TO_HEADER, PREVIOUS_HASHES_HEADER, DedupeLedger
from streams.rules.outputs import Route
from streams.rules.verdict import SourcePosition

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
AT = SourcePosition("signatures.valid", 2, 40)
HASH = "ab" * 32
ACCEPTED = AvroCodec("SignatureAccepted")


def accepted(**changes: Any) -> bytes:
    record = {
        "signature_id": "sig-1",
        "petition_id": "open",
        "email_hash": HASH,
        "full_name": "Ana",
        "consent_to_publish_name": True,
        "country": "FR",
        "region": "Europe and Central Asia",
        "postal_code": None,
        "submitted_at": NOW,
        "accepted_at": NOW,
        "source": "web-form",
        "locale": None,
        "source_topic": "signatures.submitted",
        "source_partition": 1,
        "source_offset": 7,
        "source_index": 0,
        "confirmation_required": False,
        "email_domain": "example.org",
        "network": None,
        "user_agent": None,
        "email_hash_key_id": "k1",
    }
    return ACCEPTED.encode({**record, **changes})


def settle(value: bytes | None, headers: list[tuple[str, bytes]] | None = None) -> list[Any]:
    ledger = DedupeLedger({})
    outputs = ledger.settle_sent_home(f"open:{HASH}".encode(), value, headers, AT, NOW)  # type: ignore[arg-type]
    return [(o.route, o.verdict) for o in outputs] + [("entries", len(ledger.winners))]


def test_a_record_with_no_value_cannot_be_decoded() -> None:
    with pytest.raises(MalformedMessage):
        ACCEPTED.decode(None)


def test_a_record_with_no_value_is_a_dead_letter() -> None:
    assert settle(None) == [(Route.REJECTED, "malformed"), ("entries", 0)]


def test_a_hash_that_is_no_hash_is_a_dead_letter() -> None:
    assert settle(accepted(email_hash="not-hex" * 9)) == [
        (Route.REJECTED, "malformed"),
        ("entries", 0),
    ]


@pytest.mark.parametrize("country", ["F R", "ZZ", ""])
def test_a_country_no_region_holds_is_a_dead_letter(country: str) -> None:
    assert settle(accepted(country=country)) == [(Route.REJECTED, "malformed"), ("entries", 0)]


def test_a_winner_header_naming_an_unknown_country_is_a_dead_letter() -> None:
    value = accepted(country="ZZ")
    assert settle(value, [(WINNER_HEADER, b"ZZ 1 7 2")]) == [
        (Route.REJECTED, "malformed"),
        ("entries", 0),
    ]


@pytest.mark.parametrize("header", [b"\xff\xfe:\xff", b"k0:not-a-hash", b"k0"])
def test_previous_hashes_that_are_not_hashes_are_left_out(header: bytes) -> None:
    assert settle(accepted(), [(PREVIOUS_HASHES_HEADER, header)]) == [
        (Route.ACCEPTED, "accepted"),
        ("entries", 1),
    ]


def test_a_pending_winner_whose_value_cannot_be_read_gets_a_dead_letter_not_a_mail() -> None:
    headers = [(WINNER_HEADER, b"FR 1 7 2 0 p 0"), (MAIL_TO_HEADER, b"ana@example.org")]
    assert settle(b"junk", headers) == [
        (Route.ACCEPTED, "accepted"),
        (Route.REJECTED, "malformed"),
        ("entries", 1),
    ]


def report(**changes: Any) -> dict[str, Any]:
    good = {"petition_id": "open", "partition": 1, "countries": {"FR": 3}, "pending": {}}
    return {**good, "version": 4, **changes}


def test_a_good_partial_count_has_no_problem() -> None:
    assert report_problem(report()) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"countries": {"ZZ": 1}},
        {"pending": {"F R": 1}},
        {"countries": {"FR": -1}},
        {"version": 2**63 - 1},
        {"partition": -1},
    ],
)
def test_a_partial_count_the_dedupe_stage_cannot_have_written_is_refused(
    changes: dict[str, Any],
) -> None:
    assert report_problem(report(**changes)) is not None
