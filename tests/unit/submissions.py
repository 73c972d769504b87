"""One submission as our producers put it on signatures.submitted, for the unit specs
of the stages: the fields a form sends, any of them changed by the caller."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from schemas.codec import codec
from streams.rules.keys import submission_key_for


def submission_at(
    now: datetime, email: str, petition: str = "open", **changes: Any
) -> tuple[bytes, bytes]:
    """(key, value) of one submission made a minute before ``now``."""
    record = {
        "signature_id": f"sig-{email}",
        "petition_id": petition,
        "full_name": "Layla Haddad",
        "email": email,
        "country": "sy",
        "postal_code": None,
        "consent_to_publish_name": True,
        "submitted_at": now - timedelta(minutes=1),
        "source": "web-form",
        "client_ip": None,
        "user_agent": None,
        "locale": None,
        "referrer": None,
    } | changes
    return submission_key_for(petition, email), codec("SignatureSubmitted").encode(record)
