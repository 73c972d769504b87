"""A second demo feed brings new people: another seed, other signers (a repeated seed
re-sent the first run's people, so a second `make run` counted nothing new)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.codec import codec
from streams.core.errors import MalformedMessage
from streams.demo.simulator import DatasetGenerator, default_petitions

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def signers(seed: int) -> set[str]:
    decoder = codec("SignatureSubmitted")
    emails = set()
    for event in DatasetGenerator(seed, default_petitions(NOW), NOW).generate(500):
        try:
            emails.add(decoder.decode(event.value)["email"].strip().lower())
        except MalformedMessage:
            continue  # the feed's junk on purpose
    return emails


def test_another_seed_brings_other_signers() -> None:
    first, second = signers(1), signers(2)
    assert len(first & second) < len(first) // 20


def test_the_same_seed_repeats_the_same_signers() -> None:
    assert signers(3) == signers(3)


def test_a_large_dataset_is_never_stamped_in_the_future() -> None:
    generator = DatasetGenerator(4, default_petitions(NOW), NOW)
    decoder = codec("SignatureSubmitted")
    generator.clock = NOW + timedelta(days=10)  # as after ~400,000 events
    event = generator.event("accepted")
    assert decoder.decode(event.value)["submitted_at"] <= NOW
