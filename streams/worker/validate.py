"""validate: signatures.submitted -> a verdict per submission, and the dedupe decision
where it can (``streams.rules.stages.validate_record`` decides; this agent reads, sends
and acknowledges).

The only place the clear email exists after the intake: it is hashed here and dropped.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from datetime import UTC, datetime
from typing import Any

from schemas.codec import codec
from streams.catalogue.follower import PetitionLookup
from streams.core.metrics import EVENTS_IN
from streams.rules.petitions import judged_at
from streams.rules.reasons import Reason
from streams.rules.stages import validate_record
from streams.rules.verdict import Accepted, Rejected, SourcePosition, judge
from streams.worker.app import CountersignApp
from streams.worker.dedupe import DedupeStage
from streams.worker.policy import handle_each
from streams.worker.topology import Topology

log = logging.getLogger(__name__)

#: Judging a batch does not wait on anything, so it would hold the event loop for
#: its whole length: it lets the producer, the commits and the other agents run
#: after every so many submissions.
YIELD_EVERY = 16


def register(
    app: CountersignApp, topics: Topology, petitions: PetitionLookup, dedupe: DedupeStage
) -> Any:
    settings = app.countersign_settings
    partitions = settings.topic_partitions
    pause = settings.validate_batch_pause_seconds
    submitted_codec = codec("SignatureSubmitted")
    events_in = EVENTS_IN.labels("validate")
    judge_here = functools.partial(
        judge,
        petitions=petitions,
        hash_key=settings.hash_key,
        submitted_codec=submitted_codec,
        hash_key_id=settings.email_hash_key_id,
        previous_keys=settings.previous_hash_keys,
    )
    #: When validate last waited for the catalogue: at most once a second, so that a
    #: flood of made-up petition ids cannot hold the event loop in waits.
    waited_at = [0.0]

    def verdict_on(
        key: bytes | None, value: bytes | None, position: SourcePosition, at: datetime
    ) -> Accepted | Rejected:
        """The verdict, judged again against a fresher catalogue when the petition is
        unknown. No catch-all: ``judge`` answers any input with a verdict (its property
        tests), so an exception is a bug, and ``handle_each`` stops the worker on it
        without a commit; dead-lettering it as ``malformed`` would reject valid
        signatures for good, silently."""
        events_in.inc()
        verdict = judge_here(value, key, position, now=at)
        if (
            isinstance(verdict, Rejected)
            and verdict.reason is Reason.UNKNOWN_PETITION
            and petitions.fresh_as_of < at.timestamp()
            and time.monotonic() - waited_at[0] > 1.0
        ):
            waited_at[0] = time.monotonic()
            # Maybe published a moment before: judge against a catalogue that has
            # everything logged before the submission was. Blocks the loop while the
            # follower looks at the catalogue's ends once (median 2 ms, 53 ms at most
            # measured: a waiter cuts its poll short; bench/follower_freshness.py).
            petitions.ensure_fresh(at.timestamp(), timeout=2.0)
            verdict = judge_here(value, key, position, now=at)
        return verdict

    async def handle(message: Any) -> None:
        position = SourcePosition(message.topic, message.partition, message.offset)
        logged_at = judged_at(message.timestamp, datetime.now(UTC))
        outputs = validate_record(
            position,
            message.key,
            message.value,
            judge=lambda key, value, at: verdict_on(key, value, at, logged_at),
            ledger=dedupe.ledger,
            partitions=partitions,
            now=lambda: logged_at,
        )
        for index, output in enumerate(outputs):
            topics.send_output(output)
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(pause)
        dedupe.end_record(position)

    @app.agent(topics.submitted, name="validate", concurrency=1)
    async def validate(stream: Any) -> None:
        await handle_each("validate", stream, handle)

    return validate
