"""What the intake judges at the edge: per-field errors, and the same verdicts as the
validate agent for every field it checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.codec import AvroCodec
from streams.core.errors import InvalidSignature
from streams.publish import Signature
from streams.rules.petitions import PetitionWindow
from streams.rules.submission import parse
from streams.rules.verdict import Accepted, SourcePosition, judge

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
GOOD = {"full_name": "Layla Haddad", "email": "layla@example.org", "country": "sy"}


def fields(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


def test_a_good_submission_has_no_errors() -> None:
    clean, errors = parse(fields(postal_code=" 10115 ", consent_to_publish_name="on"))
    assert errors == {}
    assert clean is not None
    assert (clean.postal_code, clean.consent_to_publish_name) == ("10115", True)


def test_every_bad_field_gets_its_own_message() -> None:
    _, errors = parse({"full_name": " ", "email": "no-at-sign", "country": "UK"})
    assert set(errors) == {"full_name", "email", "country"}
    assert "empty" in errors["full_name"]
    assert "@" in errors["email"]
    assert "not an assigned" in errors["country"]


def test_missing_fields_are_asked_for() -> None:
    _, errors = parse({})
    assert errors == {
        "full_name": "please give your name",
        "email": "please give your email address",
        "country": "please choose your country",
    }


@pytest.mark.parametrize("value", [7, True, ["a"], {"a": 1}, 1.5])
def test_a_field_that_is_not_text_is_an_error_not_a_crash(value: Any) -> None:
    _, errors = parse(fields(full_name=value))
    assert errors["full_name"] == "must be text"


def test_the_honeypot_must_stay_empty() -> None:
    _, errors = parse(fields(website="http://spam.example"))
    assert errors == {"website": "leave this field empty"}


@pytest.mark.parametrize(("value", "expected"), [("on", True), ("false", False), (True, True)])
def test_consent_accepts_form_and_json_spellings(value: Any, expected: bool) -> None:
    clean, _ = parse(fields(consent_to_publish_name=value))
    assert clean is not None and clean.consent_to_publish_name is expected


def test_consent_must_be_a_yes_or_no() -> None:
    _, errors = parse(fields(consent_to_publish_name="perhaps"))
    assert errors == {"consent_to_publish_name": "must be true or false"}


def test_a_client_signature_id_must_be_a_plain_token() -> None:
    _, errors = parse(fields(signature_id="<script>"))
    assert set(errors) == {"signature_id"}


def test_signature_from_fields_raises_with_all_errors() -> None:
    with pytest.raises(InvalidSignature) as invalid:
        Signature.from_fields("p", {"email": "x"})
    assert set(invalid.value.errors) == {"full_name", "email", "country"}
    assert isinstance(invalid.value, ValueError)


def test_a_signature_needs_an_aware_time() -> None:
    with pytest.raises(InvalidSignature):
        Signature(
            petition_id="p", full_name="A", email="a@b.org", country="FR",
            submitted_at=datetime(2026, 1, 1),
        )  # fmt: skip


# -- the edge agrees with the validate agent ------------------------------------------
names = st.one_of(st.text(max_size=210), st.sampled_from(["Layla", " ", "x" * 201, "a\x07b"]))
emails = st.one_of(
    st.text(max_size=40),
    st.builds(lambda a, b: f"{a}@{b}", st.text(max_size=12), st.text(max_size=12)),
    st.sampled_from(["a@example.org", "A.B+x@GoogleMail.com", "a@bücher.example", "a@@b.c"]),
)
countries = st.one_of(st.text(max_size=3), st.sampled_from(["sy", "XK", "UK", "zz", " fr "]))


@given(name=names, email=emails, country=countries)
def test_what_the_edge_accepts_the_agent_accepts_and_vice_versa(
    name: str, email: str, country: str
) -> None:
    clean, errors = parse({"full_name": name, "email": email, "country": country})
    record = Signature(
        petition_id="open",
        full_name=name,
        email=email,
        country=country,
        submitted_at=NOW - timedelta(minutes=1),
    ).to_record()
    verdict = judge(
        AvroCodec("SignatureSubmitted").encode(record),
        b"open",
        SourcePosition("signatures.submitted", 0, 0),
        petitions={"open": PetitionWindow("open", NOW - timedelta(days=1), None)},
        now=NOW,
        hash_key=b"k",
    )
    if len(email) > 254:  # the edge also caps the length of an address
        assert "email" in errors
        return
    assert (clean is not None) == isinstance(verdict, Accepted), (errors, verdict)
