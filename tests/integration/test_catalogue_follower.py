"""Each process's copy of the catalogue knows how fresh it is, so a petition
published a moment before its first signatures is never called unknown."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from streams.catalogue.follower import PetitionLookup
from streams.catalogue.store import new_petition, publish_petition
from streams.core.settings import Settings
from streams.core.topics import create_topics


def petition(petition_id: str) -> dict[str, object]:
    now = datetime.now(UTC)
    return new_petition(petition_id, "A title", opens_at=now - timedelta(days=1), now=now)


def test_waiting_until_fresh_finds_a_petition_published_just_before(settings: Settings) -> None:
    create_topics(settings)
    lookup = PetitionLookup(settings)
    lookup.start()
    try:
        publish_petition(settings, petition("just-now"))
        logged = time.time()  # Kafka has it: it was logged before this moment
        assert lookup.ensure_fresh(logged, timeout=10)
        assert lookup("just-now") is not None
    finally:
        lookup.stop()


def test_a_copy_is_fresh_as_of_its_load(settings: Settings) -> None:
    create_topics(settings)
    publish_petition(settings, petition("loaded"))
    before = time.time()
    lookup = PetitionLookup(settings)
    lookup.start()
    try:
        assert lookup.fresh_as_of >= before
        assert lookup.ensure_fresh(before, timeout=0)  # no wait needed
    finally:
        lookup.stop()


def test_waiting_for_a_moment_not_yet_reached_times_out(settings: Settings) -> None:
    create_topics(settings)
    lookup = PetitionLookup(settings)
    lookup.start()
    try:
        assert not lookup.ensure_fresh(time.time() + 60, timeout=0.3)
    finally:
        lookup.stop()
