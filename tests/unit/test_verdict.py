"""The validate agent's decision, end to end on bytes, in precedence order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.codec import AvroCodec
from streams.rules.petitions import PetitionWindow
from streams.rules.verdict import Accepted, Rejected, SourcePosition, judge

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PETITIONS = {
    "open": PetitionWindow("open", datetime(2026, 1, 1, tzinfo=UTC), None),
    "over": PetitionWindow(
        "over", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    ),
}
POSITION = SourcePosition("signatures.submitted", 3, 42)
CODEC = AvroCodec("SignatureSubmitted")


def event(**changes: Any) -> dict[str, Any]:
    return {
        "signature_id": "sig-1",
        "petition_id": "open",
        "full_name": "Layla Haddad",
        "email": "Layla+sign@Example.org",
        "country": "sy",
        "postal_code": None,
        "consent_to_publish_name": True,
        "submitted_at": NOW - timedelta(minutes=1),
        "source": "web-form",
        "client_ip": "203.0.113.9",
        "user_agent": None,
        "locale": "ar-SY",
        "referrer": None,
    } | changes


def verdict_of(raw: bytes | None, key: bytes | None = b"open") -> Accepted | Rejected:
    return judge(raw, key, POSITION, petitions=PETITIONS, now=NOW, hash_key=b"k")


def reason_of(**changes: Any) -> str:
    verdict = verdict_of(CODEC.encode(event(**changes)))
    assert isinstance(verdict, Rejected)
    return str(verdict.record["reason"])


def test_a_good_event_is_accepted_without_its_clear_email() -> None:
    verdict = verdict_of(CODEC.encode(event()))
    assert isinstance(verdict, Accepted)
    record = verdict.record
    assert record["country"] == "SY" and record["region"] == "Middle East and North Africa"
    assert "email" not in record and "client_ip" not in record
    assert str(verdict.dedupe_key) == f"open:{record['email_hash']}"
    assert (record["source_partition"], record["source_offset"]) == (3, 42)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"petition_id": "nope", "full_name": "", "country": "ZZ"}, "unknown_petition"),
        ({"submitted_at": NOW + timedelta(hours=1), "petition_id": "over"}, "future_timestamp"),
        ({"petition_id": "over", "full_name": "", "email": "bad"}, "petition_closed"),
        ({"full_name": "\x00", "country": "ZZ", "email": "bad"}, "invalid_name"),
        ({"country": "ZZ", "email": "bad"}, "invalid_country"),
        ({"email": "bad"}, "invalid_email"),
    ],
)
def test_the_first_broken_rule_in_precedence_order_is_the_reason(
    changes: dict[str, Any], reason: str
) -> None:
    assert reason_of(**changes) == reason


def test_oversized_wins_over_everything() -> None:
    raw = CODEC.encode(event(full_name="x" * 20_000, petition_id="nope"))
    verdict = verdict_of(raw)
    assert isinstance(verdict, Rejected) and verdict.record["reason"] == "oversized"


def test_undecodable_bytes_are_malformed_and_take_the_key_petition() -> None:
    verdict = verdict_of(b"\x00garbage", key=b"open")
    assert isinstance(verdict, Rejected)
    assert verdict.record["reason"] == "malformed"
    assert verdict.petition_id == "open"


def test_undecodable_bytes_without_the_marker_keep_only_their_first_two_bytes() -> None:
    verdict = verdict_of(b'{"email": "layla@example.org"}')
    assert isinstance(verdict, Rejected)
    assert verdict.record["original"] == b'{"'


def test_undecodable_bytes_with_the_marker_keep_only_the_single_object_header() -> None:
    raw = CODEC.encode(event())[:-3]  # the body cut short: the name and email are in it
    verdict = verdict_of(raw)
    assert isinstance(verdict, Rejected) and verdict.record["reason"] == "malformed"
    assert verdict.record["original"] == raw[:2] + raw[2:10]  # marker + fingerprint


@pytest.mark.parametrize(
    "changes",
    [
        {"petition_id": "nope"},
        {"submitted_at": NOW + timedelta(hours=1)},
        {"petition_id": "over"},
        {"full_name": "\x00"},
        {"country": "ZZ"},
        {"email": "bad"},
    ],
)
def test_a_rejected_decodable_event_keeps_none_of_its_bytes(changes: dict[str, Any]) -> None:
    verdict = verdict_of(CODEC.encode(event(**changes)))
    assert isinstance(verdict, Rejected)
    assert verdict.record["original"] is None  # the audit log has them, at the position


def test_a_record_without_value_is_malformed() -> None:
    verdict = verdict_of(None)
    assert isinstance(verdict, Rejected) and verdict.record["reason"] == "malformed"


def test_an_old_writer_version_is_read_by_resolution() -> None:
    v1 = {k: v for k, v in event().items() if k != "referrer"}
    assert isinstance(verdict_of(CODEC.encode(v1, writer_version=1)), Accepted)


def test_rejections_carry_the_signature_id_and_source_position() -> None:
    verdict = verdict_of(CODEC.encode(event(country="ZZ")))
    assert isinstance(verdict, Rejected)
    assert verdict.record["signature_id"] == "sig-1"
    assert verdict.record["source_offset"] == 42


#: A signer whose every field is wrong in its own way, each wrong value carrying
#: personal data that a dead letter must not repeat.
PERSONAL = ["Layla", "Haddad", "layla.haddad", "haddad-family"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"full_name": "Layla\x07Haddad"}, "invalid_name"),
        ({"country": "Layla Haddad"}, "invalid_country"),
        ({"email": "layla.haddad@haddad-family"}, "invalid_email"),
        ({"email": "layla.haddad@haddad family.org"}, "invalid_email"),
        ({"email": "layla.haddad@-haddad-family-.org"}, "invalid_email"),
        ({"email": "layla.haddad@xn--haddad-family.org"}, "invalid_email"),
        ({"email": "layla.haddad@haddad\u200dfamily.org"}, "invalid_email"),
    ],
)
def test_a_dead_letter_does_not_repeat_the_signers_name_or_address(
    changes: dict[str, Any], reason: str
) -> None:
    base = event(full_name="Layla Haddad", email="layla.haddad@haddad-family.org")
    verdict = verdict_of(CODEC.encode(base | changes))
    assert isinstance(verdict, Rejected) and verdict.record["reason"] == reason
    dead_letter = AvroCodec("SignatureRejected").encode(verdict.record)
    for value in PERSONAL:
        assert value.encode() not in dead_letter, (value, verdict.record["detail"])


def test_a_malformed_dead_letter_does_not_repeat_the_signers_name_or_address() -> None:
    raw = CODEC.encode(event(full_name="Layla Haddad", email="layla.haddad@haddad-family.org"))
    verdict = verdict_of(raw[:-3])
    assert isinstance(verdict, Rejected) and verdict.record["reason"] == "malformed"
    dead_letter = AvroCodec("SignatureRejected").encode(verdict.record)
    for value in PERSONAL:
        assert value.encode() not in dead_letter


def test_an_unknown_petition_is_named_by_the_record_not_the_detail() -> None:
    verdict = verdict_of(CODEC.encode(event(petition_id="layla.haddad@haddad-family.org")))
    assert isinstance(verdict, Rejected) and verdict.record["reason"] == "unknown_petition"
    assert "layla" not in verdict.record["detail"]
