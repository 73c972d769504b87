"""The sign form's token: issued per render, valid for its petition until it expires."""

from __future__ import annotations

import pytest

from streams.core.errors import CrossSiteRefused
from streams.intake.formtoken import FormTokens

SECRET = "a-test-secret"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_fresh_token_passes_for_its_petition() -> None:
    tokens = FormTokens(SECRET, max_age=3600)
    tokens.check(tokens.issue("syria-icc"), "syria-icc")


def test_a_token_passes_until_it_is_older_than_its_max_age() -> None:
    clock = Clock(1_000_000.0)
    tokens = FormTokens(SECRET, max_age=3600, clock=clock)
    token = tokens.issue("syria-icc")
    clock.now += 3600
    tokens.check(token, "syria-icc")
    clock.now += 1
    with pytest.raises(CrossSiteRefused, match="open too long"):
        tokens.check(token, "syria-icc")


def test_a_missing_token_is_refused() -> None:
    tokens = FormTokens(SECRET, max_age=3600)
    for missing in (None, "", object()):
        with pytest.raises(CrossSiteRefused, match="not sent from the petition's own page"):
            tokens.check(missing, "syria-icc")


def test_a_tampered_token_is_refused() -> None:
    tokens = FormTokens(SECRET, max_age=3600)
    body, signature = tokens.issue("syria-icc").rsplit(".", 1)
    # The signature's first character: all six of its bits count (the last one's
    # lowest two are padding, so changing only those would change nothing).
    tampered = f"{body}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    with pytest.raises(CrossSiteRefused, match="not one of ours"):
        tokens.check(tampered, "syria-icc")


def test_a_token_under_another_secret_is_refused() -> None:
    token = FormTokens("another-secret", max_age=3600).issue("syria-icc")
    with pytest.raises(CrossSiteRefused, match="not one of ours"):
        FormTokens(SECRET, max_age=3600).check(token, "syria-icc")


def test_a_token_of_another_petition_is_refused() -> None:
    tokens = FormTokens(SECRET, max_age=3600)
    with pytest.raises(CrossSiteRefused, match="another petition"):
        tokens.check(tokens.issue("clean-air"), "syria-icc")


def test_refusals_are_permission_errors() -> None:
    with pytest.raises(PermissionError):
        FormTokens(SECRET, max_age=3600).check(None, "syria-icc")
