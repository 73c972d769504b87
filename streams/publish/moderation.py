"""Invalidate and reinstate signatures by compensating events: nothing in Kafka is
rewritten. Each event goes to ``signatures.moderations`` under the signer's dedupe
key, on their home partition (where the dedupe stage keeps their entry), and names
who did it, when, why, and the batch it belongs to (``reinstate`` undoes a batch).
``countersign serve`` publishes them for its authenticated /ops routes, which
``countersign invalidate`` and ``reinstate`` call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from schemas.codec import codec
from streams.core import kafka
from streams.core.errors import CountersignError, KafkaUnavailable
from streams.core.settings import Settings
from streams.core.topicspecs import MODERATIONS
from streams.rules.keys import DedupeKey

ACTIONS = ("invalidate", "reinstate")


def new_batch_id() -> str:
    return f"mod-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def publish_moderations(
    settings: Settings,
    petition_id: str,
    targets: Iterable[dict[str, Any]],
    *,
    action: str,
    batch_id: str,
    reason: str,
    actor: str,
    on_sent: Callable[[int], None] = lambda _: None,
) -> int:
    """Put one moderation per target on Kafka and wait until Kafka has them all."""
    if action not in ACTIONS:
        raise ValueError(f"action {action!r}: one of {', '.join(ACTIONS)}")
    topic = settings.topic(MODERATIONS.name)
    moderated = codec("SignatureModerated")
    producer = kafka.producer(settings)
    failures: list[str] = []
    at = datetime.now(UTC)
    targets = list(targets)
    unplaced = [t["signature_id"] for t in targets if int(t["home_partition"]) < 0]
    if unplaced:  # checked before anything is sent: a batch goes whole or not at all
        raise CountersignError(
            f"{len(unplaced)} signatures (e.g. {unplaced[0]}) have no home partition in "
            "ClickHouse (written before it was recorded): run `countersign rebuild` first"
        )
    sent = 0
    for target in targets:
        key = DedupeKey(petition_id, target["email_hash"]).encode()
        value = moderated.encode(
            {
                "petition_id": petition_id,
                "email_hash": target["email_hash"],
                "signature_id": target["signature_id"],
                "action": action,
                "batch_id": batch_id,
                "reason": reason,
                "actor": actor,
                "at": at,
            }
        )
        kafka.produce_waiting(
            producer,
            topic,
            value,
            key,
            partition=int(target["home_partition"]),
            on_delivery=kafka.failures_into(failures),
        )
        sent += 1
        on_sent(1)
    if producer.flush(60) != 0 or failures:
        raise KafkaUnavailable(
            f"Kafka did not take every moderation of batch {batch_id}: {failures[:3]}; "
            "run the same command again (a repeated action changes nothing)"
        )
    return sent
