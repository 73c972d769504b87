"""The signer's name: any script is welcome; empty, huge or control-laden is not."""

from __future__ import annotations

import re

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
    control = _CONTROL.search(name)
    if control is not None:
        raise RuleViolation(
            Reason.INVALID_NAME,
            f"the name has a control character (U+{ord(control.group()):04X}) "
            f"at position {control.start() + 1}",
        )
    return name


#: Unicode's "Cc" category, all of it (a closed set since Unicode 1.1: C0, DEL, C1),
#: searched in C rather than a category lookup per character.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
