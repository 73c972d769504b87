"""Reason codes of docs/architecture.md, in the order in which they are checked."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why an event was not counted. The value is the wire and database code."""

    OVERSIZED = "oversized"
    MALFORMED = "malformed"
    UNKNOWN_PETITION = "unknown_petition"
    FUTURE_TIMESTAMP = "future_timestamp"
    PETITION_CLOSED = "petition_closed"
    INVALID_NAME = "invalid_name"
    INVALID_COUNTRY = "invalid_country"
    INVALID_EMAIL = "invalid_email"
    DUPLICATE = "duplicate"


#: When an event breaks several rules, its one reason is the first in this order.
PRECEDENCE: tuple[Reason, ...] = tuple(Reason)


class RuleViolation(ValueError):
    """One broken rule: the reason code and a human-readable detail."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
