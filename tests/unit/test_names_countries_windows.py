"""Name, country, signing-window, clock and size rules."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta

import pycountry
import pytest

from streams.intake.pages import petition_problem
from streams.rules.countries import normalize_country
from streams.rules.names import clean_name
from streams.rules.petitions import (
    PetitionWindow,
    WindowState,
    check_not_future,
    check_size,
    check_window,
    window_state,
)
from streams.rules.reasons import PRECEDENCE, Reason, RuleViolation


@pytest.mark.parametrize(
    "name",
    [
        "Ada Lovelace",
        "عمر الخطيب",
        "Наталья Иванова",
        "अनिल कुमार",
        "王芳",
        "Zoë O'Brien-Ñúñez",
        "क्‍ष",
        "x" * 200,
    ],
)
def test_names_in_every_script_are_valid(name: str) -> None:
    assert clean_name(f"  {name} ") == name


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("", "empty"),
        ("   \t ", "empty"),
        ("x" * 201, "201 characters"),
        ("Ada\nLovelace", "U+000A"),
        ("Ada\x00", "U+0000"),
        ("Ada\x7f", "U+007F"),
    ],
)
def test_invalid_names(name: str, detail: str) -> None:
    with pytest.raises(RuleViolation, match=re.escape(detail)) as caught:
        clean_name(name)
    assert caught.value.reason is Reason.INVALID_NAME


def test_every_assigned_code_is_valid_in_any_case() -> None:
    for country in pycountry.countries:
        assert normalize_country(country.alpha_2.lower()) == country.alpha_2


@pytest.mark.parametrize(("raw", "code"), [("xk", "XK"), (" sy ", "SY"), ("De", "DE")])
def test_country_normalization(raw: str, code: str) -> None:
    assert normalize_country(raw) == code


@pytest.mark.parametrize("raw", ["", "UK", "EU", "ZZ", "SYR", "S", "12", "XX", "AN"])
def test_unassigned_codes_are_invalid(raw: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        normalize_country(raw)
    assert caught.value.reason is Reason.INVALID_COUNTRY


OPENS = datetime(2026, 1, 1, tzinfo=UTC)
CLOSES = datetime(2026, 7, 1, tzinfo=UTC)
WINDOW = PetitionWindow("p", OPENS, CLOSES)


def test_the_window_includes_its_opening_instant() -> None:
    check_window(WINDOW, OPENS)


def test_the_window_excludes_its_closing_instant() -> None:
    with pytest.raises(RuleViolation) as caught:
        check_window(WINDOW, CLOSES)
    assert caught.value.reason is Reason.PETITION_CLOSED


def test_before_opening_is_closed() -> None:
    with pytest.raises(RuleViolation, match="before the petition opens"):
        check_window(WINDOW, OPENS - timedelta(milliseconds=1))


def test_the_window_has_three_states() -> None:
    assert window_state(WINDOW, OPENS - timedelta(milliseconds=1)) is WindowState.NOT_OPEN
    assert window_state(WINDOW, OPENS) is WindowState.OPEN
    assert window_state(WINDOW, CLOSES) is WindowState.CLOSED


@pytest.mark.parametrize(
    ("opens", "closes", "status"),
    [(timedelta(days=1), None, 403), (-timedelta(days=2), -timedelta(days=1), 410)],
)
def test_the_intake_answers_from_the_same_window(
    opens: timedelta, closes: timedelta | None, status: int
) -> None:
    now = datetime.now(UTC)
    petition = {
        "petition_id": "p",
        "title": "P",
        "opens_at": now + opens,
        "closes_at": closes and now + closes,
    }
    problem = petition_problem(petition, "p")
    assert problem is not None and problem.status == status


def test_an_open_ended_petition_never_closes() -> None:
    check_window(PetitionWindow("p", OPENS, None), datetime(2100, 1, 1, tzinfo=UTC))


def test_five_minutes_ahead_is_tolerated_and_more_is_future() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    check_not_future(now + timedelta(minutes=5), now)
    with pytest.raises(RuleViolation) as caught:
        check_not_future(now + timedelta(minutes=5, milliseconds=1), now)
    assert caught.value.reason is Reason.FUTURE_TIMESTAMP


def test_sixteen_kib_is_the_largest_event() -> None:
    check_size(16 * 1024)
    with pytest.raises(RuleViolation) as caught:
        check_size(16 * 1024 + 1)
    assert caught.value.reason is Reason.OVERSIZED


def test_precedence_is_the_architecture_order() -> None:
    assert [r.value for r in PRECEDENCE] == [
        "oversized",
        "malformed",
        "unknown_petition",
        "future_timestamp",
        "petition_closed",
        "invalid_name",
        "invalid_country",
        "invalid_email",
        "duplicate",
    ]


def test_a_control_character_is_named_with_its_position_not_the_name() -> None:
    with pytest.raises(RuleViolation) as caught:
        clean_name("  Ada\tLovelace ")
    assert caught.value.detail == "the name has a control character (U+0009) at position 4"


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (
            "Deutschland",
            "not an ISO 3166-1 alpha-2 country code (two letters; 11 characters given)",
        ),
        ("zz", "two letters, but not an assigned ISO 3166-1 alpha-2 country code"),
    ],
)
def test_an_invalid_country_is_described_not_repeated(raw: str, detail: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        normalize_country(raw)
    assert caught.value.detail == detail


def test_every_control_character_and_only_those_refuse_a_name() -> None:
    for code in range(0x110000):
        character = chr(code)
        if unicodedata.category(character) == "Cs":
            continue  # not text: no str from the wire holds one
        refused = False
        try:
            clean_name(f"Ana{character}Silva")
        except RuleViolation:
            refused = True
        assert refused == (unicodedata.category(character) == "Cc"), hex(code)
