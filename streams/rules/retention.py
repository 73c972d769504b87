"""When a petition's signers' names go (docs/privacy.md, "Retention").

A petition may keep its signers' personal data for ``retain_names_days`` after it
closes, as UK e-petitions does; then the retention job shreds every data key of the
petition. The counts stay: they never needed a name. These functions only say when;
the job (``streams.signerkeys.retention``) does it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

#: ``export`` warns this long before a petition's names are shredded: the delivery
#: list has to be taken before then.
EXPORT_WARNING = timedelta(days=7)


class RetentionState(StrEnum):
    #: No retention (no ``retain_names_days``, or the petition never closes).
    KEPT = "kept"
    #: Shredded at ``shred_at``, not yet.
    WAITING = "waiting"
    #: ``shred_at`` has passed: the job shreds what keys are left.
    DUE = "due"


@dataclass(frozen=True)
class Retention:
    """One petition's retention, as of a moment."""

    petition_id: str
    shred_at: datetime | None
    state: RetentionState


def shred_at(closes_at: datetime | None, retain_names_days: int | None) -> datetime | None:
    """When the names of a petition closing at ``closes_at`` are shredded; None when
    never (no retention, or an open-ended petition: it has not closed)."""
    if retain_names_days is None or closes_at is None:
        return None
    return closes_at + timedelta(days=retain_names_days)


def retention_of(
    petition_id: str,
    closes_at: datetime | None,
    retain_names_days: int | None,
    now: datetime,
) -> Retention:
    """Where the petition stands at ``now``."""
    when = shred_at(closes_at, retain_names_days)
    if when is None:
        return Retention(petition_id, None, RetentionState.KEPT)
    state = RetentionState.DUE if now >= when else RetentionState.WAITING
    return Retention(petition_id, when, state)


def export_warning(
    closes_at: datetime | None, retain_names_days: int | None, now: datetime
) -> str | None:
    """What ``export`` says when the names it lists are about to go (or gone)."""
    when = shred_at(closes_at, retain_names_days)
    if when is None or when - now > EXPORT_WARNING:
        return None
    if when <= now:
        return (
            f"the retention policy shredded these signers' names on {when:%Y-%m-%d %H:%M} UTC: "
            "the list holds only names from before sealing, if any"
        )
    return (
        f"the retention policy shreds these signers' names on {when:%Y-%m-%d %H:%M} UTC "
        f"(in {_span(when - now)}): keep this export, a later one will have no names"
    )


def _span(left: timedelta) -> str:
    """``2.5 days``, ``5 hours``, ``12 minutes``: what a reader takes in at a glance."""
    seconds = left.total_seconds()
    if seconds >= 86_400:
        return f"{seconds / 86_400:.1f} days"
    if seconds >= 3_600:
        return f"{seconds / 3_600:.0f} hours"
    return f"{max(1, round(seconds / 60))} minutes"
