"""What the validate stage does with one record of signatures.submitted, as a plain
function (``validate_record``); the dedupe decisions are ``streams.rules.ledger``'s.

Both give ``Output`` values (``streams.rules.outputs``); the Faust agents only read,
send what these give and acknowledge, so a change to a rule is caught by tests that run
in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from schemas.batch import items_of
from schemas.codec import codec
from streams.core.errors import MalformedMessage
from streams.rules.dedupe import WINNER_HEADER
from streams.rules.keys import petition_of_key
from streams.rules.ledger import (
    MAIL_TO_HEADER,
    PREVIOUS_HASHES_HEADER,
    DedupeLedger,
    encode_previous,
)
from streams.rules.outputs import Output, Route, malformed, rejected
from streams.rules.placement import home_partition
from streams.rules.verdict import Accepted, Rejected, SourcePosition

Judge = Callable[[bytes | None, bytes | None, SourcePosition], Accepted | Rejected]


def validate_record(
    position: SourcePosition,
    key: bytes | None,
    value: bytes | None,
    *,
    judge: Judge,
    ledger: DedupeLedger,
    partitions: int,
    now: Callable[[], datetime],
) -> Iterator[Output]:
    """The outputs of one record of signatures.submitted, one per submission it carries
    (several when it is a ``SignatureBatch``), in order. A valid signature read on its
    home partition is settled here by ``ledger``; any other is sent home."""
    try:
        items = items_of(key, value)
    except MalformedMessage as exc:
        yield malformed(
            value, petition_of_key(key), f"unreadable batch: {exc.detail}", position, now()
        )
        return
    accepted_codec = codec("SignatureAccepted")
    for index, (item_key, item_value) in enumerate(items):
        at = SourcePosition(position.topic, position.partition, position.offset, index)
        verdict = judge(item_key, item_value, at)
        if isinstance(verdict, Rejected):
            yield rejected(verdict)
            continue
        record = verdict.record
        home = home_partition(verdict.submission_key, partitions)
        candidate = ledger.candidate(record, home)
        if home == position.partition:
            yield from ledger.settle(
                verdict.dedupe_key,
                candidate,
                None,  # encoded only if it is accepted: a duplicate never needs it
                at,
                now=now(),
                record=record,
                mail_to=verdict.mail_to,
                previous=verdict.previous_hashes,
            )
        else:
            headers = [(WINNER_HEADER, candidate.encode())]
            if verdict.mail_to is not None:
                headers.append((MAIL_TO_HEADER, verdict.mail_to.encode()))
            if verdict.previous_hashes:
                headers.append((PREVIOUS_HASHES_HEADER, encode_previous(verdict.previous_hashes)))
            encoded = accepted_codec.encode(record)
            yield Output(Route.VALID, verdict.dedupe_key.encode(), encoded, "valid", home, headers)
