"""validate: signatures.submitted -> a verdict per submission, and the dedupe decision
where it can.

The only place the clear email exists after the intake: it is hashed here and dropped.
A record carries one submission or several (``schemas.batch``); each is judged on its
own, at its own place in the audit log (partition, offset, index). A valid signature
read on its signer's home partition (the usual case: our producers key by
``petition_id/bucket`` and batch by home partition) is settled here by the dedupe
stage, which owns that partition's slice of the winners table; any other is sent home
through signatures.valid, keyed by its dedupe key, and settled by the ``dedupe`` agent.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from schemas.batch import decode_batch, is_batch
from schemas.codec import codec
from streams.core.errors import MalformedMessage
from streams.core.metrics import EVENTS_IN, VERDICTS
from streams.rules.dedupe import WINNER_HEADER, Winner
from streams.rules.keys import petition_of_key
from streams.rules.petitions import PetitionWindow
from streams.rules.placement import home_partition
from streams.rules.reasons import Reason
from streams.rules.verdict import Accepted, Rejected, SourcePosition, judge, rejection
from streams.worker.app import CountersignApp
from streams.worker.dedupe import DedupeStage
from streams.worker.policy import handle_each
from streams.worker.topology import Topology

log = logging.getLogger(__name__)

#: Judging a batch does not wait on anything, so it would hold the event loop for
#: its whole length: it lets the producer, the commits and the other agents run
#: after every so many submissions.
YIELD_EVERY = 16


def register(app: CountersignApp, topics: Topology, petitions: Any, dedupe: DedupeStage) -> Any:
    settings = app.countersign_settings
    hash_key = settings.email_hash_key.get_secret_value().encode()
    partitions = settings.topic_partitions
    pause = settings.validate_batch_pause_seconds
    submitted_codec = codec("SignatureSubmitted")
    accepted_codec = codec("SignatureAccepted")
    rejected_codec = codec("SignatureRejected")
    events_in = EVENTS_IN.labels("validate")
    valid = VERDICTS.labels("valid")

    def lookup(petition_id: str) -> PetitionWindow | None:
        result: PetitionWindow | None = petitions(petition_id)
        return result

    def verdict_on(key: bytes | None, value: bytes | None, position: SourcePosition) -> Any:
        now = datetime.now(UTC)
        try:
            return judge(
                value,
                key,
                position,
                petitions=lookup,
                now=now,
                hash_key=hash_key,
                submitted_codec=submitted_codec,
            )
        except Exception as exc:  # a bug must not stop the pipeline: dead-letter it
            log.exception("validate failed on %s; dead-lettering it", position)
            return rejection(
                petition_id=petition_of_key(key),
                reason=Reason.MALFORMED,
                detail=f"validator error: {exc!r}",
                position=position,
                received_at=now,
                original=value,
            )

    async def reject(verdict: Rejected) -> None:
        VERDICTS.labels(verdict.reason).inc()
        await topics.send(
            topics.rejected, verdict.petition_id.encode(), rejected_codec.encode(verdict.record)
        )

    async def accept(verdict: Accepted, position: SourcePosition) -> None:
        valid.inc()
        record = verdict.record
        home = home_partition(verdict.submission_key, partitions)
        candidate = Winner.of(record, home)
        key = verdict.dedupe_key.encode()
        value = accepted_codec.encode(record)
        if home == position.partition:
            await dedupe.settle(
                petition_id=record["petition_id"],
                email_hash=record["email_hash"],
                candidate=candidate,
                key=key,
                value=value,
                read_at=position,
                record=record,
            )
        else:
            await topics.send(
                topics.valid,
                key,
                value,
                partition=home,
                headers=[(WINNER_HEADER, candidate.encode())],
            )

    async def handle(message: Any) -> None:
        items: list[tuple[bytes | None, bytes | None]] = [(message.key, message.value)]
        if is_batch(message.value):
            try:
                items = list(decode_batch(message.value))
            except MalformedMessage as exc:
                items = []
                await reject(
                    rejection(
                        petition_id=petition_of_key(message.key),
                        reason=Reason.MALFORMED,
                        detail=f"unreadable batch: {exc.detail}",
                        position=SourcePosition(message.topic, message.partition, message.offset),
                        received_at=datetime.now(UTC),
                        original=message.value,
                    )
                )
        for index, (key, value) in enumerate(items):
            events_in.inc()
            position = SourcePosition(message.topic, message.partition, message.offset, index)
            verdict = verdict_on(key, value, position)
            if isinstance(verdict, Rejected):
                await reject(verdict)
            else:
                await accept(verdict, position)
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(pause)

    @app.agent(topics.submitted, name="validate", concurrency=1)
    async def validate(stream: Any) -> None:
        await handle_each("validate", stream, handle)

    return validate
