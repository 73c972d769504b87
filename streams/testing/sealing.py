"""A dataset's events as a sealing publisher sends them (docs/privacy.md): every
readable submission with its personal data sealed under its signer's data key, one
key per signer and petition as the intake keeps them; hostile bytes stay as they
are. The counts must not change: the truth of the clear events is the truth of
these (bench/pipeline.py measures the cost; nothing here writes keys.signers, since
counting never opens a seal)."""

from __future__ import annotations

import dataclasses

from schemas.codec import codec
from schemas.sealed import DataKey
from streams.core.errors import MalformedMessage
from streams.core.settings import Settings
from streams.demo.simulator import Event
from streams.rules.keys import DedupeKey
from streams.rules.sealing import seal_submission, signer_facts


def sealed_events(settings: Settings, events: list[Event]) -> list[Event]:
    """``events`` with each readable submission sealed, in the same order and keys."""
    submitted = codec("SignatureSubmitted")
    keys: dict[DedupeKey, DataKey] = {}
    sealed = []
    for event in events:
        try:
            record = submitted.decode(event.value)
        except MalformedMessage:
            sealed.append(event)  # hostile bytes: nothing to seal
            continue
        facts = signer_facts(
            record,
            hash_key=settings.hash_key,
            hash_key_id=settings.email_hash_key_id,
            previous_keys=settings.previous_hash_keys,
        )
        key = keys.setdefault(facts.key_scope, DataKey.new())
        value = submitted.encode(seal_submission(record, facts, key))
        sealed.append(dataclasses.replace(event, value=value))
    return sealed
