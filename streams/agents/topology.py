"""The topics the agents read and write, as Faust topic objects of raw bytes.

Values are Avro single-object messages that our codec handles (Faust's own
serializers are bypassed: ``raw`` in, ``raw`` out), so every topic can be read by
any Avro reader, not only by Faust.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.app import CountersignApp
from streams.topics import ACCEPTED, COUNTS, DUPLICATES, PETITIONS, REJECTED, SUBMITTED, VALID


@dataclass(frozen=True)
class Topology:
    petitions: Any
    submitted: Any
    valid: Any
    rejected: Any
    accepted: Any
    duplicates: Any
    partials: Any  # internal: the dedupe stage's partial counts, keyed by petition
    counts: Any


def topology(app: CountersignApp) -> Topology:
    settings = app.countersign_settings

    def raw(name: str, **options: Any) -> Any:
        return app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            **options,
        )

    return Topology(
        petitions=raw(settings.topic(PETITIONS.name)),
        submitted=raw(settings.topic(SUBMITTED.name)),
        valid=raw(settings.topic(VALID.name)),
        rejected=raw(settings.topic(REJECTED.name)),
        accepted=raw(settings.topic(ACCEPTED.name)),
        duplicates=raw(settings.topic(DUPLICATES.name)),
        partials=raw(
            f"{app.conf.id}-partial-counts",
            internal=True,
            partitions=settings.topic_partitions,
        ),
        counts=raw(settings.topic(COUNTS.name)),
    )
