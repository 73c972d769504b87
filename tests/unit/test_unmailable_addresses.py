"""No address can make the intake's parse or the mail composer raise.

An address with a line break hidden in its ``+tag`` once passed the email rule and
crashed the mailer at the ``To`` header, on every restart. Here addresses are drawn
from every Unicode general category (surrogates included), with the characters that
break headers drawn often, and pushed through both: the parse answers with fields or
errors, the composer with a mail or ``Unmailable``, and a mail serializes to bytes
with exactly one recipient.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.utils import getaddresses

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.settings import Settings
from streams.mailer.compose import Unmailable, compose
from streams.rules.email import unmailable_character
from streams.rules.submission import parse

#: Examples per property: the closing note of issue 24 reports this number.
EXAMPLES = 3000
ALL_CATEGORIES = (
    "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps",
    "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs",
    "Co", "Cn",
)  # fmt: skip
#: What breaks a header or a line: drawn far more often than chance would.
BREAKERS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00\t \u00a0"

ANY_CHARACTER = st.characters(categories=ALL_CATEGORIES) | st.sampled_from(BREAKERS)
PIECE = st.text(ANY_CHARACTER, max_size=8)
PLAIN = st.text("abcdefghijklmnopqrstuvwxyz0123456789.-", min_size=1, max_size=8)
ADDRESSES = st.one_of(
    # local[+tag]@domain.tld, any piece of it hostile
    st.builds(
        lambda local, tag, domain, tld: f"{local}{tag}@{domain}.{tld}",
        PLAIN | PIECE,
        st.just("") | PIECE.map(lambda t: "+" + t),
        PLAIN | PIECE,
        st.sampled_from(["org", "com", "de"]) | PIECE,
    ),
    st.text(ANY_CHARACTER, max_size=40),
)
SETTINGS = Settings(public_url="https://sign.example.org")


def request_for(email: str, full_name: str, request_id: str, locale: str | None) -> dict:
    return {
        "request_id": request_id,
        "kind": "first",
        "petition_id": "free-press",
        "email_hash": "ab" * 32,
        "home_partition": 0,
        "signature_id": "sig-1",
        "email": email,
        "full_name": full_name,
        "locale": locale,
        "requested_at": datetime(2026, 12, 5, tzinfo=UTC),
    }


@settings(max_examples=EXAMPLES, deadline=None)
@given(ADDRESSES)
def test_the_intake_answers_every_address_with_fields_or_errors(address: str) -> None:
    clean, errors = parse({"full_name": "Ana", "email": address, "country": "FR"})
    if clean is None:
        assert set(errors) == {"email"}
    else:
        assert not unmailable_character(clean.email)


@settings(max_examples=EXAMPLES, deadline=None)
@given(ADDRESSES, st.text(max_size=30), st.text(max_size=30), st.text(max_size=30))
def test_the_composer_answers_every_request_with_a_mail_or_unmailable(
    address: str, full_name: str, request_id: str, title: str
) -> None:
    mail = compose(SETTINGS, request_for(address, full_name, request_id, None), title)
    if isinstance(mail, Unmailable):
        assert mail.reason == "invalid_email"
        return
    sent = message_from_bytes(mail.as_bytes(), policy=policy.SMTPUTF8)
    assert len(getaddresses([str(sent["To"])])) == 1
    assert len(sent.get_all("Subject") or []) == 1


@settings(max_examples=EXAMPLES, deadline=None)
@given(ADDRESSES)
def test_an_address_the_intake_accepts_is_mailed(address: str) -> None:
    clean, _ = parse({"full_name": "Ana", "email": address, "country": "FR"})
    if clean is not None:
        mail = compose(SETTINGS, request_for(clean.email, "Ana", "first:x/0/1#0", "fr"), "T")
        assert not isinstance(mail, Unmailable)
