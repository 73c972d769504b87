"""``countersign trace``: one signature's path through the pipeline, from the log.

Finds every submission in ``signatures.submitted`` with the signature id (or, for an
email address, every submission of that petition whose address normalizes to the same
mailbox: the address is hashed here and only its hash leaves this process), judges each
with the rules at the time Kafka logged it, and sets that next to what the pipeline
recorded: the rejection row of its position, or the signature row of its dedupe key
(the winner) in ClickHouse, and whether the winner is in the counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas.batch import items_of
from schemas.codec import codec
from streams.audit.reconcile import petition_windows
from streams.audit.serve_client import ServeClient
from streams.core.errors import MalformedMessage
from streams.core.logscan import LogRange, LogRecord, scan, whole_log
from streams.core.settings import Settings
from streams.core.topicspecs import SUBMITTED
from streams.rules.email import email_hash, normalize_email
from streams.rules.keys import petition_of_key
from streams.rules.petitions import PetitionWindow, judged_at
from streams.rules.reasons import Reason, RuleViolation
from streams.rules.verdict import Accepted, SourcePosition, judge


@dataclass(frozen=True)
class Wanted:
    """What to look for: a signature id, or a petition and an email's keyed hash."""

    signature_id: str | None = None
    petition_id: str | None = None
    email_hash: str | None = None

    @classmethod
    def email(cls, petition_id: str, address: str, hash_key: bytes) -> Wanted:
        try:
            hashed = email_hash(normalize_email(address), hash_key)
        except RuleViolation as exc:
            raise MalformedMessage(f"not a valid email address: {exc.detail}") from exc
        return cls(petition_id=petition_id, email_hash=hashed)

    def prefilter(self) -> bytes:
        """Bytes every matching record holds (Avro keeps strings as UTF-8)."""
        return (self.signature_id or self.petition_id or "").encode()


@dataclass
class Step:
    """One submission found in the log, the rules' verdict and the pipeline's record."""

    position: SourcePosition
    logged_at: datetime
    signature_id: str
    petition_id: str
    #: "accepted" or a reason, as the rules give it at ``logged_at``
    verdict: str
    detail: str = ""
    email_hash: str | None = None
    #: What ClickHouse holds for this position: "winner", a reason, or "nothing".
    recorded: str = "nothing"
    recorded_detail: str = ""

    @property
    def agrees(self) -> bool:
        if self.verdict == "accepted":  # the winner, or a duplicate of an earlier one
            return self.recorded in ("winner", "duplicate")
        return self.recorded == self.verdict

    def as_json(self) -> dict[str, Any]:
        return {
            "position": f"{self.position.partition}/{self.position.offset}#{self.position.index}",
            "logged_at": self.logged_at.isoformat(),
            "signature_id": self.signature_id,
            "petition_id": self.petition_id,
            "rules": self.verdict,
            "detail": self.detail,
            "recorded": self.recorded,
            "recorded_detail": self.recorded_detail,
            "agrees": self.agrees,
        }


@dataclass
class Trace:
    log: LogRange
    steps: list[Step] = field(default_factory=list)
    #: The signature row that won the dedupe key, if any.
    winner: dict[str, Any] | None = None
    #: The count of the winner's country as the API shows it.
    country_count: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "log": self.log.describe(),
            "submissions": [s.as_json() for s in self.steps],
            "winner": self.winner,
            "counted_in": None
            if self.winner is None
            else {"country": self.winner["country"], "count": self.country_count},
        }


def find(
    settings: Settings,
    wanted: Wanted,
    windows: dict[str, PetitionWindow],
    log: LogRange,
    on_progress: Callable[[int], None],
) -> list[Step]:
    """Every submission of the log that ``wanted`` names, judged by the rules."""
    hash_key = settings.hash_key
    needle = wanted.prefilter()
    decoder = codec("SignatureSubmitted")
    steps = []
    for record in scan(settings, log, on_progress):
        if record.value is None or needle not in record.value:
            continue
        try:
            items = items_of(record.key, record.value)
        except MalformedMessage as exc:  # rejected whole, as one malformed submission
            steps.append(_unreadable_batch(wanted, record, log.topic, exc))
            continue
        for index, (key, value) in enumerate(items):
            if value is None or needle not in value:
                continue
            try:
                event = decoder.decode(value)
            except MalformedMessage:
                continue
            if not _matches(wanted, event, hash_key):
                continue
            position = SourcePosition(log.topic, record.partition, record.offset, index)
            logged_at = judged_at(record.timestamp, datetime.now(UTC))
            verdict = judge(
                value,
                key,
                position,
                petitions=windows,
                now=logged_at,
                hash_key=hash_key,
                submitted_codec=decoder,
                hash_key_id=settings.email_hash_key_id,
                previous_keys=settings.previous_hash_keys,
            )
            step = Step(
                position,
                logged_at,
                str(event["signature_id"]),
                str(event["petition_id"]),
                "accepted" if isinstance(verdict, Accepted) else verdict.reason.value,
            )
            if isinstance(verdict, Accepted):
                step.email_hash = verdict.dedupe_key.email_hash
            else:
                step.detail = str(verdict.record["detail"])
            steps.append(step)
    return steps


def _unreadable_batch(
    wanted: Wanted, record: LogRecord, topic: str, problem: MalformedMessage
) -> Step:
    """A batch that holds the wanted bytes but cannot be read: the worker rejected it
    whole, as one malformed submission at index 0 (``schemas.batch.items_of``)."""
    return Step(
        SourcePosition(topic, record.partition, record.offset),
        judged_at(record.timestamp, datetime.now(UTC)),
        wanted.signature_id or "?",
        petition_of_key(record.key),
        Reason.MALFORMED.value,
        detail=f"unreadable batch: {problem.detail}",
    )


def _matches(wanted: Wanted, event: dict[str, Any], hash_key: bytes) -> bool:
    if wanted.signature_id is not None:
        return bool(event["signature_id"] == wanted.signature_id)
    if event["petition_id"] != wanted.petition_id:
        return False
    sealed = event.get("sealed")
    if sealed is not None:  # hashed where it was sealed (docs/privacy.md)
        hashes = {sealed["email_hash"], *(p["email_hash"] for p in sealed["previous_hashes"])}
        return wanted.email_hash in hashes
    if event["email"] is None:
        return False
    try:
        return email_hash(normalize_email(event["email"]), hash_key) == wanted.email_hash
    except RuleViolation:
        return False


def trace(
    settings: Settings,
    wanted: Wanted,
    on_start: Callable[[LogRange], None],
    on_progress: Callable[[int], None],
) -> Trace:
    log = whole_log(settings, SUBMITTED.name)
    on_start(log)
    windows = petition_windows(settings)
    result = Trace(log, find(settings, wanted, windows, log, on_progress))
    if not result.steps:
        return result
    client = ServeClient(settings)
    positions = [[s.position.partition, s.position.offset, s.position.index] for s in result.steps]
    recorded = {
        (row["source_partition"], row["source_offset"], row["source_index"]): row
        for row in client.post("/rejections", {"topic": log.topic, "positions": positions})
    }
    hashes = {(s.petition_id, s.email_hash) for s in result.steps if s.email_hash}
    winners = [client.get(f"/petitions/{p}/signatures/{h}") for p, h in sorted(hashes)]
    winner = next((w for w in winners if w is not None), None)
    result.winner = winner
    for step in result.steps:
        at = (step.position.partition, step.position.offset, step.position.index)
        if at in recorded:
            step.recorded = str(recorded[at]["reason"])
            step.recorded_detail = str(recorded[at]["detail"])
        elif winner is not None and at == (
            winner["source_partition"],
            winner["source_offset"],
            winner["source_index"],
        ):
            step.recorded = "winner"
    if winner is not None:
        counts = client.get(f"/api/petitions/{winner['petition_id']}/counts", ops=False)
        result.country_count = int(counts["by_country"].get(winner["country"], 0))
    return result
