"""Running totals by (petition, country) and per-minute counts, by event time.

Minutes come from ``submitted_at`` (event time), not the worker's clock, so a replay
or a rebuild from the audit log produces the very same per-minute series.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def count_key(petition_id: str, country: str) -> str:
    """Key of ``counts.regional``: petition_id + country."""
    return f"{petition_id}:{country}"


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def minute_key(petition_id: str, country: str, minute: datetime) -> str:
    return f"{count_key(petition_id, country)}:{int(minute.timestamp())}"


def regional_count(
    accepted: dict[str, Any], *, signatures: int, minute_signatures: int, now: datetime
) -> dict[str, Any]:
    """The RegionalCount published after counting ``accepted``."""
    return {
        "petition_id": accepted["petition_id"],
        "region": accepted["region"],
        "country": accepted["country"],
        "signatures": signatures,
        "minute": minute_of(accepted["submitted_at"]),
        "minute_signatures": minute_signatures,
        "updated_at": now,
    }
