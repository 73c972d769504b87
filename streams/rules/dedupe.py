"""One accepted signature per (petition, email); the first in stream order wins."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    #: The very event that won before, delivered again after a crash: forward it again
    #: (downstream counts each dedupe key once), never count it as a duplicate.
    REPLAYED = "replayed"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    detail: str = ""


def position_label(record: dict[str, Any]) -> str:
    """``topic/partition/offset`` of the submitted event a record derives from."""
    return f"{record['source_topic']}/{record['source_partition']}/{record['source_offset']}"


def decide(
    record: dict[str, Any],
    *,
    winner_of_key: dict[str, str] | None,
    winner_of_signature: dict[str, str] | None,
) -> Decision:
    """The fate of a valid signature given what this key and this signature_id won before.

    Winners are ``{"signature_id", "position"}`` as stored in the dedupe tables.
    """
    position = position_label(record)
    if winner_of_key is not None and winner_of_key["position"] == position:
        return Decision(Outcome.REPLAYED)
    if winner_of_signature is not None and winner_of_signature["position"] != position:
        return Decision(
            Outcome.DUPLICATE,
            f"signature_id {record['signature_id']} was already accepted at "
            f"{winner_of_signature['position']} (a retried submission)",
        )
    if winner_of_key is not None:
        return Decision(
            Outcome.DUPLICATE,
            f"this email already signed petition {record['petition_id']} "
            f"(signature {winner_of_key['signature_id']} at {winner_of_key['position']})",
        )
    return Decision(Outcome.ACCEPTED)


def winner(record: dict[str, Any]) -> dict[str, str]:
    """What the dedupe tables remember of an accepted signature."""
    return {"signature_id": record["signature_id"], "position": position_label(record)}
