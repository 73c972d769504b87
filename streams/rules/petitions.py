"""Petition-dependent and time-dependent rules: the signing window and the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from streams.rules.reasons import Reason, RuleViolation

#: A client clock may run a little fast; more than this is a future timestamp.
MAX_CLOCK_SKEW = timedelta(minutes=5)
#: Events bigger than this (encoded) are rejected before they are even decoded.
MAX_EVENT_BYTES = 16 * 1024


class Confirmation(StrEnum):
    """A petition's confirmation policy (the catalogue's ``confirmation`` field)."""

    #: A signature counts once its signer follows the link mailed to them.
    EMAIL = "email"
    #: A signature counts when it is accepted.
    NONE = "none"


@dataclass(frozen=True)
class PetitionWindow:
    """What the rules need to know of a petition."""

    petition_id: str
    opens_at: datetime
    closes_at: datetime | None  # exclusive; None: open-ended
    confirmation: Confirmation = Confirmation.NONE

    @property
    def needs_confirmation(self) -> bool:
        return self.confirmation is Confirmation.EMAIL


def check_size(size: int) -> None:
    if size > MAX_EVENT_BYTES:
        raise RuleViolation(
            Reason.OVERSIZED, f"the event has {size} bytes (at most {MAX_EVENT_BYTES})"
        )


def judged_at(log_time: float | None, wall_clock: datetime) -> datetime:
    """The moment a submission is judged against: when Kafka logged it (the broker's
    clock, seconds since the epoch), so a replay next year, a restart after a crash and
    ``countersign reconcile`` all reach the verdict the live worker reached. Only a
    record without a timestamp falls back to the clock of whoever is judging."""
    if log_time is None or log_time <= 0:
        return wall_clock
    return datetime.fromtimestamp(log_time, UTC)


def check_not_future(submitted_at: datetime, now: datetime) -> None:
    if submitted_at - now > MAX_CLOCK_SKEW:
        raise RuleViolation(
            Reason.FUTURE_TIMESTAMP,
            f"submitted_at {submitted_at.isoformat()} is more than "
            f"{MAX_CLOCK_SKEW.total_seconds() / 60:g} minutes ahead of {now.isoformat()}",
        )


class WindowState(StrEnum):
    NOT_OPEN = "not open yet"
    OPEN = "open"
    CLOSED = "closed"


def window_state(petition: PetitionWindow, at: datetime) -> WindowState:
    """Where ``at`` falls in the petition's signing window [opens_at, closes_at): the
    one test that the agents (``check_window``) and the intake's pages both use."""
    if at < petition.opens_at:
        return WindowState.NOT_OPEN
    if petition.closes_at is not None and at >= petition.closes_at:
        return WindowState.CLOSED
    return WindowState.OPEN


def check_window(petition: PetitionWindow, submitted_at: datetime) -> None:
    """Both sides of the window are ``petition_closed``, as the contract says."""
    state = window_state(petition, submitted_at)
    if state is WindowState.NOT_OPEN:
        raise RuleViolation(
            Reason.PETITION_CLOSED,
            f"submitted at {submitted_at.isoformat()}, before the petition opens "
            f"at {petition.opens_at.isoformat()}",
        )
    if state is WindowState.CLOSED:
        raise RuleViolation(
            Reason.PETITION_CLOSED,
            f"submitted at {submitted_at.isoformat()}, after the petition closed "
            f"at {petition.closes_at and petition.closes_at.isoformat()}",
        )
