"""What a stage gives: records to produce, each naming the route (topic) it goes to.

A stage (``streams.rules.stages``, ``streams.rules.ledger``) takes a record of its input
topic and returns ``Output`` values; the Faust agents (``streams.worker``) only read,
send what the stages give and acknowledge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from schemas.codec import codec
from streams.core import topicspecs
from streams.rules.reasons import Reason
from streams.rules.verdict import Rejected, SourcePosition, rejection


class Route(StrEnum):
    """Where an output goes: a topic of the contract, without the prefix (the names'
    one home is ``streams.core.topicspecs``)."""

    REJECTED = topicspecs.REJECTED.name
    VALID = topicspecs.VALID.name
    ACCEPTED = topicspecs.ACCEPTED.name
    DUPLICATES = topicspecs.DUPLICATES.name
    OUTBOX = topicspecs.OUTBOX.name
    LOG = topicspecs.LOG_CHANGES.name


@dataclass(frozen=True, slots=True)
class Output:
    route: Route
    key: bytes
    value: bytes
    #: The verdict it carries, for the metrics: a reason, "valid", an ``Outcome`` or
    #: "mail".
    verdict: str
    partition: int | None = None
    headers: list[tuple[str, bytes]] | None = None


def rejected(verdict: Rejected) -> Output:
    value = codec("SignatureRejected").encode(verdict.record)
    return Output(Route.REJECTED, verdict.petition_id.encode(), value, verdict.reason.value)


def malformed(
    raw: bytes | None, petition_id: str, detail: str, at: SourcePosition, now: datetime
) -> Output:
    return rejected(
        rejection(
            petition_id=petition_id,
            reason=Reason.MALFORMED,
            detail=detail,
            position=at,
            received_at=now,
            original=raw,
        )
    )
