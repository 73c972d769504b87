"""validate: signatures.submitted -> a verdict, and the dedupe decision where it can.

The only place the clear email exists after the intake: it is hashed here and dropped.
A valid signature read on its signer's home partition (the usual case: our producers
key by ``petition_id/bucket``) is settled here by the dedupe stage, which owns that
partition's slice of the winners table; any other is sent home through
signatures.valid, keyed by its dedupe key, and settled by the ``dedupe`` agent.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from schemas.codec import codec
from streams.agents.dedupe import DedupeStage
from streams.agents.placement import home_partition
from streams.agents.topology import Topology
from streams.app import CountersignApp
from streams.metrics import EVENTS_IN, VERDICTS
from streams.rules.dedupe import WINNER_HEADER, Winner
from streams.rules.keys import petition_of_key
from streams.rules.petitions import PetitionWindow
from streams.rules.reasons import Reason
from streams.rules.verdict import Accepted, Rejected, SourcePosition, judge, rejection

log = logging.getLogger(__name__)


def register(app: CountersignApp, topics: Topology, petitions: Any, dedupe: DedupeStage) -> Any:
    settings = app.countersign_settings
    hash_key = settings.email_hash_key.get_secret_value().encode()
    partitions = settings.topic_partitions
    submitted_codec = codec("SignatureSubmitted")
    accepted_codec = codec("SignatureAccepted")
    rejected_codec = codec("SignatureRejected")
    events_in = EVENTS_IN.labels("validate")
    valid = VERDICTS.labels("valid")

    def lookup(petition_id: str) -> PetitionWindow | None:
        result: PetitionWindow | None = petitions(petition_id)
        return result

    @app.agent(topics.submitted, name="validate", concurrency=1)
    async def validate(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            events_in.inc()
            position = SourcePosition(message.topic, message.partition, message.offset)
            now = datetime.now(UTC)
            try:
                verdict: Accepted | Rejected = judge(
                    message.value,
                    message.key,
                    position,
                    petitions=lookup,
                    now=now,
                    hash_key=hash_key,
                    submitted_codec=submitted_codec,
                )
            except Exception as exc:  # a bug must not stop the pipeline: dead-letter it
                log.exception("validate failed on %s; dead-lettering it", position)
                verdict = rejection(
                    petition_id=petition_of_key(message.key),
                    reason=Reason.MALFORMED,
                    detail=f"validator error: {exc!r}",
                    position=position,
                    received_at=now,
                    original=message.value,
                )
            if isinstance(verdict, Rejected):
                VERDICTS.labels(verdict.reason).inc()
                await topics.rejected.send(
                    key=verdict.petition_id.encode(), value=rejected_codec.encode(verdict.record)
                )
                continue
            valid.inc()
            record = verdict.record
            home = home_partition(verdict.submission_key, partitions)
            candidate = Winner.of(record, home)
            key = verdict.dedupe_key.encode()
            value = accepted_codec.encode(record)
            if home == message.partition:
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
                await topics.valid.send(
                    key=key,
                    value=value,
                    partition=home,
                    headers=[(WINNER_HEADER, candidate.encode())],
                )

    return validate
