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


def test_undecodable_bytes_are_malformed_keep_their_bytes_and_the_key_petition() -> None:
    verdict = verdict_of(b"\x00garbage", key=b"open")
    assert isinstance(verdict, Rejected)
    assert verdict.record["reason"] == "malformed"
    assert verdict.record["original"] == b"\x00garbage"
    assert verdict.petition_id == "open"


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
