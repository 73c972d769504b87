"""The signer's name: any script is welcome; empty, huge or control-laden is not."""

from __future__ import annotations

import unicodedata

from streams.rules.reasons import Reason, RuleViolation

MAX_NAME_LENGTH = 200


def clean_name(raw: str) -> str:
    """The trimmed name, or ``RuleViolation(invalid_name)``.

    Only Unicode "Cc" counts as a control character: format characters such as the
    zero-width joiner (Cf) are part of correct spelling in Devanagari, Arabic and more.
    """
    name = raw.strip()
    if not name:
        raise RuleViolation(Reason.INVALID_NAME, "the name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise RuleViolation(
            Reason.INVALID_NAME, f"the name has {len(name)} characters (at most {MAX_NAME_LENGTH})"
        )
    for position, ch in enumerate(name, start=1):
        if unicodedata.category(ch) == "Cc":
            raise RuleViolation(
                Reason.INVALID_NAME,
                f"the name has a control character (U+{ord(ch):04X}) at position {position}",
            )
    return name
