"""Email normalization and hashing, exactly as docs/architecture.md orders it."""

from __future__ import annotations

import hashlib
import hmac
import string
import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from streams.rules.email import (
    UNMAILABLE_CATEGORIES,
    email_hash,
    mail_address,
    normalize_email,
    unmailable_character,
)
from streams.rules.reasons import Reason, RuleViolation

KEY = b"test-key"


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("alice@example.com", "alice@example.com"),
        ("  Alice@Example.COM \t", "alice@example.com"),
        ("alice+petitions@example.com", "alice@example.com"),
        ("alice+a+b@example.com", "alice@example.com"),
        ("a.lice@example.com", "a.lice@example.com"),  # dots matter outside Gmail
        ("A.Lice@Gmail.com", "alice@gmail.com"),
        ("a.l.i.c.e+x@googlemail.com", "alice@gmail.com"),
        ("e\u0301mile@example.fr", "\u00e9mile@example.fr"),  # NFC composes é
        ("info@bücher.de", "info@xn--bcher-kva.de"),
        ("ПОЧТА@пример.рф", "почта@xn--e1afmkfd.xn--p1ai"),
        ("用户@例子.中国", "用户@xn--fsqu00a.xn--fiqs8s"),
    ],
)
def test_normalization(raw: str, normalized: str) -> None:
    assert normalize_email(raw) == normalized


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "no-at-sign.example.com",
        "two@at@example.com",
        "@example.com",
        "+only-a-tag@example.com",
        "alice@localhost",
        "alice@",
        "al ice@example.com",
        "alice@exa mple.com",
        "alice@-bad-.com",
        "alice@example..com",
        "ali\x00ce@example.com",
    ],
)
def test_invalid_addresses(raw: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        normalize_email(raw)
    assert caught.value.reason is Reason.INVALID_EMAIL
    assert caught.value.detail


def test_hash_is_hmac_sha256_of_the_normalized_address() -> None:
    expected = hmac.new(KEY, b"alice@gmail.com", hashlib.sha256).hexdigest()
    assert email_hash(normalize_email("A.Lice+x@GoogleMail.com"), KEY) == expected


def test_hash_depends_on_the_key() -> None:
    assert email_hash("a@b.co", b"one") != email_hash("a@b.co", b"two")


LOCAL = st.text(alphabet=string.ascii_lowercase + string.digits + "._-", min_size=1, max_size=20)
LOCAL = LOCAL.filter(lambda s: s.strip(".") == s and ".." not in s)
DOMAIN = st.sampled_from(["example.com", "mail.example.org", "gmail.com", "uni.ac.uk"])


@given(st.text(max_size=60))
def test_normalization_is_idempotent(raw: str) -> None:
    try:
        once = normalize_email(raw)
    except RuleViolation:
        return
    assert normalize_email(once) == once


@given(
    LOCAL, DOMAIN, st.text(alphabet=string.ascii_letters + string.digits, max_size=10), st.data()
)
def test_case_variants_and_tags_give_the_same_hash(
    local: str, domain: str, tag: str, data: st.DataObject
) -> None:
    address = f"{local}@{domain}"
    flips = data.draw(st.lists(st.booleans(), min_size=len(address), max_size=len(address)))
    variant_chars = [c.upper() if flip else c for c, flip in zip(address, flips, strict=True)]
    variant = "".join(variant_chars)
    at = variant.index("@")
    tagged = f"{variant[:at]}+{tag}{variant[at:]}" if tag else variant
    assert email_hash(normalize_email(f"  {tagged} "), KEY) == email_hash(
        normalize_email(address), KEY
    )


@given(LOCAL)
def test_gmail_dots_and_googlemail_give_the_same_hash(local: str) -> None:
    assume(local.replace(".", ""))
    dotted = ".".join(local.replace(".", ""))
    assert normalize_email(f"{dotted}@googlemail.com") == normalize_email(f"{local}@gmail.com")


@given(st.sets(st.tuples(LOCAL, DOMAIN), min_size=2, max_size=200))
def test_distinct_normalized_addresses_never_collide(pairs: set[tuple[str, str]]) -> None:
    normalized = {normalize_email(f"{local}@{domain}") for local, domain in pairs}
    hashes = {email_hash(address, KEY) for address in normalized}
    assert len(hashes) == len(normalized)


@pytest.mark.parametrize(
    "raw",
    [
        "layla@-haddad-family-.org",
        "layla@xn--haddad-family.org",
        "layla@haddad\u200dfamily.org",
        "layla@haddad-family",
    ],
)
def test_the_detail_says_what_is_wrong_without_repeating_the_address(raw: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        normalize_email(raw)
    assert "layla" not in caught.value.detail
    assert "haddad" not in caught.value.detail
    assert caught.value.detail.startswith("the domain")


def test_a_local_part_with_a_comment_list_or_quote_is_invalid() -> None:
    # Mail programs deliver all of these to victim@example.com: as keys of their own
    # they would let one mailbox sign many times.
    for address in ("(1)victim@example.com", "a1,victim@example.com", '"victim"@example.com'):
        with pytest.raises(RuleViolation):
            normalize_email(address)


#: Every character the rule refuses anywhere in an address, tag included: line and
#: paragraph breaks a mail header cannot carry, controls, and spaces of every kind.
UNMAILABLE = [
    "\n",
    "\r",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x85",
    "\u2028",
    "\u2029",
    "\x00",
    "\t",
    "\u00a0",
    "\u3000",
]


@pytest.mark.parametrize("character", UNMAILABLE)
@pytest.mark.parametrize(
    "template", ["evil+{}x@example.org", "ev{}il@example.org", "evil@exa{}mple.org"]
)
def test_a_break_control_or_space_anywhere_is_invalid_even_inside_a_tag(
    character: str, template: str
) -> None:
    with pytest.raises(RuleViolation) as caught:
        normalize_email(template.format(character))
    assert caught.value.reason is Reason.INVALID_EMAIL
    assert "evil" not in caught.value.detail


def test_a_mail_goes_to_the_address_as_typed_with_its_domain_in_ascii() -> None:
    assert mail_address("  Layla.H+petitions@Bücher.DE ") == (
        "Layla.H+petitions",
        "xn--bcher-kva.de",
    )


def test_no_mail_goes_to_an_address_the_rule_refuses() -> None:
    with pytest.raises(RuleViolation):
        mail_address("evil+\u2028x@example.org")


def test_every_ascii_character_is_unmailable_exactly_when_unicode_says_so() -> None:
    """The ASCII fast path of ``unmailable_character`` against the Unicode rule itself."""
    for code in range(128):
        ch = chr(code)
        by_unicode = ch.isspace() or unicodedata.category(ch) in UNMAILABLE_CATEGORIES
        assert unmailable_character(f"a{ch}b@example.org") == by_unicode, repr(ch)
