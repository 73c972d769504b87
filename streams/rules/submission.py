"""What the intake can judge at the edge, with the validate agent's own rule functions.

A web form deserves an answer it can show next to the field ("this email has no @")
before anything reaches Kafka. The checks below reuse ``clean_name``,
``normalize_country`` and ``normalize_email``, so a submission the edge accepts is one
the validate agent accepts too (the agent stays the authority: it also sees the
catalogue and the clock as they are when the event is processed).

Input is untrusted: any JSON value or form string may arrive in any field. ``parse``
never raises on such input; it returns the clean fields or the per-field errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from streams.rules.countries import normalize_country
from streams.rules.email import normalize_email
from streams.rules.names import MAX_NAME_LENGTH, clean_name
from streams.rules.reasons import RuleViolation

#: The form fields a signer fills in, with the label the errors use.
FIELDS = {
    "full_name": "Full name",
    "email": "Email",
    "country": "Country",
    "postal_code": "Postal code",
    "consent_to_publish_name": "Publish my name",
}
#: A field no human sees (hidden by CSS): only bots fill it in.
HONEYPOT = "website"
MAX_SIGNATURE_ID_LENGTH = 100
SIGNATURE_ID = re.compile(rf"^[A-Za-z0-9._:-]{{1,{MAX_SIGNATURE_ID_LENGTH}}}$")
MAX_EMAIL_LENGTH = 254
MAX_POSTAL_CODE_LENGTH = 20
MAX_LOCALE_LENGTH = 35
MAX_REFERRER_LENGTH = 2000
#: The form's ``maxlength`` of each field, from the same limits the checks apply.
FIELD_LIMITS = {
    "full_name": MAX_NAME_LENGTH,
    "email": MAX_EMAIL_LENGTH,
    "postal_code": MAX_POSTAL_CODE_LENGTH,
}
TRUE_WORDS = frozenset({"on", "true", "1", "yes"})
FALSE_WORDS = frozenset({"", "off", "false", "0", "no"})


@dataclass(frozen=True)
class CleanFields:
    """The signer's fields, checked; the strings are as typed (trimmed), because the
    audit log keeps what the signer sent and the validate agent normalizes."""

    full_name: str
    email: str
    country: str
    postal_code: str | None
    consent_to_publish_name: bool
    signature_id: str | None
    locale: str | None
    referrer: str | None


def _text(fields: Mapping[str, Any], name: str, errors: dict[str, str]) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        errors[name] = "must be text"
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from JSON's "\ud800"
        errors[name] = "must be valid Unicode text"
        return None
    return value


def _optional(
    fields: Mapping[str, Any], name: str, limit: int, errors: dict[str, str]
) -> str | None:
    value = _text(fields, name, errors)
    if value is None or not value.strip():
        return None
    if len(value) > limit:
        errors[name] = f"at most {limit} characters"
        return None
    return value.strip()


def _consent(value: Any, errors: dict[str, str]) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    errors["consent_to_publish_name"] = "must be true or false"
    return False


def _required(
    fields: Mapping[str, Any],
    name: str,
    check: Callable[[str], str],
    missing: str,
    errors: dict[str, str],
    *,
    limit: int | None = None,
) -> str | None:
    """The field's text if the rule function accepts it; otherwise an error for it."""
    value = _text(fields, name, errors)
    if name in errors:
        return None
    if value is None:
        errors[name] = missing
    elif limit is not None and len(value) > limit:
        errors[name] = f"at most {limit} characters"
    else:
        try:
            check(value)
        except RuleViolation as violation:
            errors[name] = violation.detail
        else:
            return value.strip()
    return None


def parse(fields: Mapping[str, Any]) -> tuple[CleanFields | None, dict[str, str]]:
    """``(clean fields, {})`` or ``(None, {field: message})``; never raises."""
    errors: dict[str, str] = {}
    if fields.get(HONEYPOT):
        errors[HONEYPOT] = "leave this field empty"
    name = _required(fields, "full_name", clean_name, "please give your name", errors)
    email = _required(
        fields,
        "email",
        normalize_email,
        "please give your email address",
        errors,
        limit=MAX_EMAIL_LENGTH,
    )
    country = _required(fields, "country", normalize_country, "please choose your country", errors)
    postal_code = _optional(fields, "postal_code", MAX_POSTAL_CODE_LENGTH, errors)
    consent = _consent(fields.get("consent_to_publish_name"), errors)
    signature_id = _optional(fields, "signature_id", MAX_SIGNATURE_ID_LENGTH, errors)
    if signature_id is not None and not SIGNATURE_ID.match(signature_id):
        errors["signature_id"] = (
            f"1-{MAX_SIGNATURE_ID_LENGTH} letters, digits, '.', '_', ':' or '-'"
        )
    locale = _optional(fields, "locale", MAX_LOCALE_LENGTH, errors)
    referrer = _optional(fields, "referrer", MAX_REFERRER_LENGTH, errors)
    if errors or name is None or email is None or country is None:
        return None, errors
    return CleanFields(
        full_name=name,
        email=email,
        country=country,
        postal_code=postal_code,
        consent_to_publish_name=consent,
        signature_id=signature_id,
        locale=locale,
        referrer=referrer,
    ), {}
