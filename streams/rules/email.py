"""Email normalization and the keyed hash that stands for an email downstream.

Normalization follows docs/architecture.md step by step, in its order, so that every
spelling of one mailbox (case, +tags, Gmail dots, googlemail.com) gives one key:
trim, Unicode NFC, lower-case, IDNA-encode the domain, drop a ``+tag``, and for Gmail
drop dots and fold googlemail.com into gmail.com.

An address is refused before any of that if it holds a character that no mailbox
name has and that a mail header cannot carry (``unmailable_character``): the address
as typed is what a confirmation mail goes to, so a line break hidden in a ``+tag``
must not survive the tag's removal and reach the header (``mail_address``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from functools import lru_cache

import idna

from streams.rules.reasons import Reason, RuleViolation

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
#: What a local part may not hold: RFC 5322's specials and quotes, which mail programs
#: read as a comment, a list or quoting. ``(1)ana@example.org`` and ``a,ana@…`` would be
#: keys of their own yet reach Ana's mailbox: one person, many signatures.
NOT_IN_LOCAL_PART = frozenset('()<>[]:;\\,"')


#: Unicode categories no part of an address may hold: controls (CR, LF, NUL, U+0085,
#: ...), lone surrogates (which UTF-8 cannot encode), and every separator: spaces
#: (Zs), the line separator U+2028 (Zl) and the paragraph separator U+2029 (Zp).
UNMAILABLE_CATEGORIES = frozenset({"Cc", "Cs", "Zs", "Zl", "Zp"})


def _invalid(detail: str) -> RuleViolation:
    return RuleViolation(Reason.INVALID_EMAIL, detail)


def unmailable_character(text: str) -> bool:
    """Whether ``text`` holds whitespace, a control or a line or paragraph separator
    anywhere: the one check that keeps header injection out of every address."""
    if text.isascii():  # the common case: those categories hold these ASCII characters
        return _UNMAILABLE_ASCII.search(text) is not None
    return any(ch.isspace() or unicodedata.category(ch) in UNMAILABLE_CATEGORIES for ch in text)


#: The ASCII characters that are whitespace or in ``UNMAILABLE_CATEGORIES``: controls
#: (U+0000-U+001F, U+007F) and the space.
_UNMAILABLE_ASCII = re.compile("[\x00-\x20\x7f]")


def normalize_email(raw: str) -> str:
    """The canonical form of an address, or ``RuleViolation(invalid_email)``."""
    trimmed = raw.strip()
    if unmailable_character(trimmed):
        raise _invalid("the address contains spaces, line breaks or control characters")
    address = unicodedata.normalize("NFC", trimmed).lower()
    if address.count("@") != 1:
        raise _invalid("an email address has exactly one @")
    local, domain = address.split("@")
    if any(ch in NOT_IN_LOCAL_PART for ch in local):
        raise _invalid(
            "the part before @ has a character that mail reads as a comment, a list or a quote"
        )
    domain = _ascii_domain(domain)
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        local, domain = local.replace(".", ""), "gmail.com"
    if not local:
        raise _invalid("the part before @ is empty")
    if "." not in domain:
        raise _invalid("the domain has no dot")
    return f"{local}@{domain}"


def mail_address(raw: str) -> tuple[str, str]:
    """``(local part, ASCII domain)`` to write a mail to, or ``RuleViolation``: only an
    address ``normalize_email`` accepts is mailed. The local part stays as typed (tag
    and case included: it is the signer's mailbox), the domain is its IDNA form."""
    normalize_email(raw)
    local, _, domain = raw.strip().rpartition("@")
    return local, _ascii_domain(unicodedata.normalize("NFC", domain).lower())


#: What each IDNA failure means, in words that do not repeat the domain (idna's own
#: messages quote it, and a dead letter must not carry the address).
_IDNA_FAILURES = {
    idna.InvalidCodepoint: "the domain has a character that domain names cannot have",
    idna.InvalidCodepointContext: "the domain has a joiner or mark where it is not allowed",
    idna.IDNABidiError: "the domain mixes right-to-left and left-to-right text wrongly",
}


#: idna's messages that quote nothing (fixed text): said as they are.
_IDNA_FIXED_MESSAGES = frozenset(
    {
        "Label too long",
        "Label has disallowed hyphens in 3rd and 4th position",
        "Label must not start or end with a hyphen",
        "Label must be in Normalization Form C",
        "Invalid UTF-8 in label",
        "Empty Label",
        "Empty label",
        "Invalid ASCII in A-label",
        "Malformed A-label, no Punycode eligible content found",
        "A-label must not end with a hyphen",
        "Invalid A-label",
        "A-label is not the canonical Punycode encoding of its U-label",
        "Domain too long",
        "Empty domain",
    }
)


@lru_cache(maxsize=65536)
def _ascii_domain(domain: str) -> str:
    """IDNA (UTS 46) is the costliest step, and signers share few domains: memoised."""
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise _invalid(_idna_failure(exc)) from None


def _idna_failure(exc: idna.IDNAError) -> str:
    if type(exc) in _IDNA_FAILURES:
        return _IDNA_FAILURES[type(exc)]
    message = str(exc)
    if message in _IDNA_FIXED_MESSAGES:
        return f"the domain is not a valid domain name ({message.lower()})"
    return "the domain is not a valid (internationalized) domain name"


@lru_cache(maxsize=8)
def _keyed_hmac(key: bytes) -> hmac.HMAC:
    """The HMAC state after absorbing the key; copying it skips re-keying per event."""
    return hmac.new(key, digestmod=hashlib.sha256)


def email_hash(normalized_email: str, key: bytes) -> str:
    """Hex HMAC-SHA256 of a normalized address: stable per key, useless without it."""
    mac = _keyed_hmac(key).copy()
    mac.update(normalized_email.encode("utf-8"))
    return mac.hexdigest()
