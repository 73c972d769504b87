"""What the validate and dedupe stages do with one record, as plain functions.

A stage takes a record of its input topic and gives the records it must produce, as
``Output`` values naming a ``Route``; the Faust agents (``streams.worker``) only read,
send what these give and acknowledge. State is any mutable mapping (a dict in the unit
tests, a RocksDB-backed Faust table in the worker), so a change to a rule is caught by
tests that run in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from schemas.batch import decode_batch, is_batch
from schemas.codec import codec
from streams.core.errors import MalformedMessage
from streams.rules.dedupe import (
    WINNER_HEADER,
    Outcome,
    PartialCounts,
    Winner,
    decide,
    duplicate_detail,
)
from streams.rules.keys import DedupeKey, petition_of_key
from streams.rules.placement import home_partition
from streams.rules.reasons import Reason
from streams.rules.verdict import Accepted, Rejected, SourcePosition, rejection

Judge = Callable[[bytes | None, bytes | None, SourcePosition], Accepted | Rejected]


class Route(StrEnum):
    """Where an output goes: a topic of the contract, without the prefix."""

    REJECTED = "signatures.rejected"
    VALID = "signatures.valid"
    ACCEPTED = "signatures.accepted"
    DUPLICATES = "signatures.duplicates"


@dataclass(frozen=True, slots=True)
class Output:
    route: Route
    key: bytes
    value: bytes
    #: The verdict it carries, for the metrics: a reason, "valid" or an ``Outcome``.
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


class DedupeLedger:
    """The first accepted signature per dedupe key wins: the winners (one entry per key,
    in the signer's home partition) and the partial counts derived from them."""

    def __init__(self, winners: MutableMapping[bytes, bytes]) -> None:
        self.winners = winners
        self.partial = PartialCounts()

    def settle(
        self,
        key: DedupeKey,
        candidate: Winner,
        value: bytes,
        read_at: SourcePosition,
        *,
        now: datetime,
        record: dict[str, Any] | None = None,
    ) -> Output:
        """Accept, forward again or reject as a duplicate one valid signature, read at
        ``read_at`` on its home partition ``candidate.home``. ``value`` is its
        SignatureAccepted bytes (``record`` the same, decoded, when the caller has it).

        Idempotent under redelivery (docs/exactly-once.md): the very same submission
        finds itself as the winner, is forwarded again and not counted again."""
        table_key = key.table_key()
        stored_bytes = self.winners.get(table_key)
        stored = None if stored_bytes is None else Winner.decode(stored_bytes)
        outcome = decide(candidate, stored)
        if outcome is Outcome.DUPLICATE:
            assert stored is not None
            return self._duplicate(key, value, stored, read_at, record=record, now=now)
        # Written again on a replay too, so the changelog surely has it.
        self.winners[table_key] = candidate.encode()
        if outcome is Outcome.ACCEPTED:
            self.partial.add(key.petition_id, candidate.country, candidate.home)
        return Output(Route.ACCEPTED, key.encode(), value, outcome.value, candidate.home)

    def settle_sent_home(
        self, key: bytes | None, value: bytes, headers: Any, read_at: SourcePosition, now: datetime
    ) -> Output:
        """Settle a record of signatures.valid (validate sent it home): from its key and
        ``WINNER_HEADER`` when validate wrote them (no Avro decoding), else from the
        decoded record. Its home is the partition it was read from."""
        try:
            dedupe_key, candidate = _candidate_of(key, value, headers, read_at.partition)
        except MalformedMessage as exc:
            detail = f"unreadable record on {read_at.topic}: {exc.detail}"
            return malformed(value, DedupeKey.petition_of(key), detail, read_at, now)
        return self.settle(dedupe_key, candidate, value, read_at, now=now)

    def _duplicate(
        self,
        key: DedupeKey,
        value: bytes,
        winner: Winner,
        read_at: SourcePosition,
        *,
        record: dict[str, Any] | None,
        now: datetime,
    ) -> Output:
        if record is None:
            try:
                record = codec("SignatureAccepted").decode(value)
            except MalformedMessage as exc:
                detail = f"unreadable record on {read_at.topic}: {exc.detail}"
                return malformed(value, key.petition_id, detail, read_at, now)
        duplicate = rejection(
            petition_id=record["petition_id"],
            reason=Reason.DUPLICATE,
            detail=duplicate_detail(record["petition_id"], winner),
            signature_id=record["signature_id"],
            hashed_email=record["email_hash"],
            received_at=now,
            position=SourcePosition(
                record["source_topic"],
                record["source_partition"],
                record["source_offset"],
                record.get("source_index") or 0,
            ),
        )
        value = codec("SignatureRejected").encode(duplicate.record)
        return Output(
            Route.DUPLICATES, key.encode(), value, Outcome.DUPLICATE.value, read_at.partition
        )


def _candidate_of(
    key: bytes | None, value: bytes, headers: Any, partition: int
) -> tuple[DedupeKey, Winner]:
    pairs = headers.items() if isinstance(headers, dict) else (headers or ())
    header = next((v for name, v in pairs if name == WINNER_HEADER), None)
    if header is not None and key:
        try:
            sent = Winner.decode(header)
            return DedupeKey.parse(key), Winner(
                sent.country, sent.partition, sent.offset, partition, sent.index
            )
        except ValueError:
            pass  # not ours after all: read the record itself
    record = codec("SignatureAccepted").decode(value)
    return DedupeKey(record["petition_id"], record["email_hash"]), Winner.of(record, partition)


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
    items: list[tuple[bytes | None, bytes | None]] = [(key, value)]
    if is_batch(value):
        assert value is not None
        try:
            items = list(decode_batch(value))
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
        candidate = Winner.of(record, home)
        encoded = accepted_codec.encode(record)
        if home == position.partition:
            yield ledger.settle(
                verdict.dedupe_key, candidate, encoded, at, now=now(), record=record
            )
        else:
            yield Output(
                Route.VALID,
                verdict.dedupe_key.encode(),
                encoded,
                "valid",
                home,
                [(WINNER_HEADER, candidate.encode())],
            )
