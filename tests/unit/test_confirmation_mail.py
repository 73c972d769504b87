"""The confirmation link and mail, without a network: a link names its signer and
cannot be changed or reused for another purpose; it expires; the mail is plain text
and HTML in the signer's language, with the name escaped in the HTML."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from streams.core.errors import LinkExpired, LinkInvalid
from streams.core.links import (
    CONFIRM_SALT,
    ConfirmationClaim,
    confirmation_token,
    confirmation_url,
    read_confirmation,
)
from streams.core.settings import Settings
from streams.mailer.compose import compose
from streams.mailer.texts import texts_for

SETTINGS = Settings(public_url="https://sign.example.org/", confirmation_link_hours=24)
CLAIM = ConfirmationClaim("free-press", "ab" * 32, "sig-1", 4)
REQUEST = {
    "request_id": "first:signatures.submitted/2/17#0",
    "kind": "first",
    "petition_id": "free-press",
    "email_hash": "ab" * 32,
    "home_partition": 4,
    "signature_id": "sig-1",
    "email": "layla@example.org",
    "full_name": "Layla <b>Haddad</b>",
    "locale": "ar-SY",
    "requested_at": datetime(2026, 12, 1, tzinfo=UTC),
}


def test_a_link_reads_back_as_its_claim() -> None:
    claim, signed_at = read_confirmation(SETTINGS, confirmation_token(SETTINGS, CLAIM))
    assert claim == CLAIM
    assert abs(signed_at.timestamp() - time.time()) < 5


def test_a_link_points_at_the_public_intake() -> None:
    assert confirmation_url(SETTINGS, CLAIM).startswith("https://sign.example.org/confirm/")


def test_a_changed_link_is_invalid() -> None:
    token = confirmation_token(SETTINGS, CLAIM)
    tampered = token.replace("free", "frei") if "free" in token else token[:-2] + "xx"
    with pytest.raises(LinkInvalid):
        read_confirmation(SETTINGS, tampered)


def test_a_link_signed_under_another_key_is_invalid() -> None:
    other = Settings(signing_key="another-signing-key-of-32-bytes!")
    with pytest.raises(LinkInvalid):
        read_confirmation(SETTINGS, confirmation_token(other, CLAIM))


def test_a_token_made_for_another_purpose_is_not_a_confirmation() -> None:
    key = SETTINGS.signing_key.get_secret_value()
    token = URLSafeTimedSerializer(key, salt="some-other-use").dumps(["free-press", "x", "y", 1])
    with pytest.raises(LinkInvalid):
        read_confirmation(SETTINGS, token)


def test_a_link_older_than_its_lifetime_has_expired() -> None:
    class TwoDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 2 * 24 * 3600

    key = SETTINGS.signing_key.get_secret_value()
    token = URLSafeTimedSerializer(key, salt=CONFIRM_SALT, signer=TwoDaysAgo).dumps(
        ["free-press", "ab" * 32, "sig-1", 4]
    )
    with pytest.raises(LinkExpired):
        read_confirmation(SETTINGS, token)


@pytest.mark.parametrize(
    ("locale", "language"),
    [("fr-CA", "fr"), ("de_AT", "de"), ("es", "es"), ("ar-SY", "ar"), ("sw", "en"), (None, "en")],
)
def test_the_form_locale_picks_the_language(locale: str | None, language: str) -> None:
    assert texts_for(locale)[0] == language


def test_the_mail_has_plain_text_and_html_in_the_signers_language() -> None:
    mail = compose(SETTINGS, REQUEST, "Free the press")
    assert mail["Subject"] == "أكّد توقيعك: Free the press"
    assert mail["To"] == "layla@example.org"
    assert mail["Content-Language"] == "ar"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    link = confirmation_url(SETTINGS, CLAIM).rsplit("/", 1)[0]
    assert link in text.get_content() and link in html.get_content()
    assert 'dir="rtl"' in html.get_content()


def test_the_signers_name_is_escaped_in_the_html() -> None:
    html = compose(SETTINGS, REQUEST, "Free the press").get_body(("html",))
    assert html is not None
    assert "<b>Haddad</b>" not in html.get_content()
    assert "&lt;b&gt;Haddad&lt;/b&gt;" in html.get_content()


def test_the_mail_names_the_request_that_asked_for_it() -> None:
    mail = compose(SETTINGS, REQUEST, "Free the press")
    assert mail["X-Countersign-Request"] == REQUEST["request_id"]
