"""Demo traffic over four petitions, with every way an event can go wrong.

Its people come from the one data set in streams/demo/people.py, as the seed
campaign's do (streams/demo/campaign.py). Used by ``countersign simulate`` (the demo
feed of ``make run``) and by the tests. The generator records what it *meant* each
event to be (``intent``); the tests' reference implementation
(streams/testing/reference.py) computes the truth from the bytes alone, and a test
checks that both agree.
"""

from __future__ import annotations

import random
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.codec import AvroCodec
from streams.catalogue.store import new_petition
from streams.demo.people import Crowd, Person
from streams.rules.keys import submission_key_for

#: What each generated event is meant to be, and how often (relative weights).
INTENT_WEIGHTS = {
    "accepted": 70,
    "duplicate": 9,
    "retry": 3,
    "malformed": 2,
    "oversized": 1,
    "unknown_petition": 2,
    "future_timestamp": 2,
    "petition_closed": 2,
    "invalid_name": 3,
    "invalid_country": 3,
    "invalid_email": 3,
}
INTENTS = list(INTENT_WEIGHTS)


@dataclass(frozen=True)
class DemoPetition:
    """A demo petition's id and signing window (its catalogue record: ``record``)."""

    petition_id: str
    opens_at: datetime
    closes_at: datetime | None
    confirmation: str = "none"
    #: Milestones the dashboard shows progress toward.
    thresholds: tuple[int, ...] = ()

    def record(self, now: datetime) -> dict[str, Any]:
        """The catalogue record of this demo petition (title made from its id)."""
        return new_petition(
            self.petition_id,
            self.petition_id.replace("-", " ").title(),
            opens_at=self.opens_at,
            closes_at=self.closes_at,
            confirmation=self.confirmation,
            thresholds=list(self.thresholds),
            now=now,
        )


@dataclass(frozen=True)
class Event:
    key: bytes
    value: bytes
    intent: str
    #: The address a signer typed, for events that may ask for a confirmation mail.
    email: str | None = None


def default_petitions(now: datetime) -> list[DemoPetition]:
    return [
        DemoPetition("syria-icc", now - timedelta(days=30), None),
        DemoPetition("free-press", now - timedelta(days=30), None),
        DemoPetition("clean-air", now - timedelta(days=30), now + timedelta(days=30)),
        # Closed two days ago: late signatures are petition_closed.
        DemoPetition("past-vote", now - timedelta(days=30), now - timedelta(days=2)),
    ]


class DatasetGenerator:
    def __init__(
        self,
        seed: int,
        petitions: list[DemoPetition],
        now: datetime,
        *,
        live_clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``live_clock``: stamp events with real time (a live demo) instead of a
        synthetic clock that starts three days before ``now``."""
        self.live_clock = live_clock
        self.rng = random.Random(seed)
        self.petitions = petitions
        self.now = now
        self.codec = AvroCodec("SignatureSubmitted")
        self.crowd = Crowd(self.rng)
        self.people: list[Person] = []
        self.signed: dict[str, list[tuple[Person, dict[str, Any]]]] = {
            p.petition_id: [] for p in petitions
        }
        self.signers: dict[str, set[int]] = {p.petition_id: set() for p in petitions}
        self.clock = now - timedelta(days=3)

    def new_person(self) -> Person:
        person = self.crowd.new_person()
        self.people.append(person)
        return person

    # -- events -------------------------------------------------------------------------
    def record(self, petition: DemoPetition, person: Person, **changes: Any) -> dict[str, Any]:
        # Three days before ``now`` hold ~130,000 steps; a larger dataset's later events
        # are all stamped ``now`` (not the future: that is a reason of its own).
        self.clock = min(self.clock + timedelta(milliseconds=self.rng.randrange(1, 4000)), self.now)
        if self.live_clock is not None:
            self.clock = self.live_clock()
        return {
            "signature_id": str(uuid.UUID(int=self.rng.getrandbits(128))),
            "petition_id": petition.petition_id,
            "full_name": person.name,
            "email": self.crowd.email(person),
            "country": self.crowd.country(person),
            "postal_code": self.crowd.postal_code(person),
            "consent_to_publish_name": self.rng.random() < 0.7,
            "submitted_at": self.clock
            if petition.closes_at is None or self.clock < petition.closes_at
            else petition.closes_at - timedelta(days=1),
            "source": self.rng.choice(["web-form", "api", "import"]),
            "client_ip": person.ip,
            "user_agent": "Mozilla/5.0",
            "locale": self.rng.choice([None, person.locale.replace("_", "-")]),
            "referrer": None,
        } | changes

    def encode(self, record: dict[str, Any]) -> bytes:
        if self.rng.random() < 0.3:  # an older form still sends schema v1
            v1 = {k: v for k, v in record.items() if k != "referrer"}
            return self.codec.encode(v1, writer_version=1)
        return self.codec.encode(record)

    def open_petition(self) -> DemoPetition:
        return self.rng.choice([p for p in self.petitions if p.petition_id != "past-vote"])

    def event(self, intent: str) -> Event:
        petition = self.open_petition()
        signed = self.signed[petition.petition_id]
        if intent in ("duplicate", "retry") and not signed:
            intent = "accepted"
        if intent == "accepted":
            person = (
                self.rng.choice(self.people)
                if self.people and self.rng.random() < 0.3
                else self.new_person()
            )
            if person.number in self.signers[petition.petition_id]:
                person = self.new_person()
            record = self.record(petition, person)
            self.signers[petition.petition_id].add(person.number)
            signed.append((person, record))
            return Event(self.key(person, record), self.encode(record), intent, record["email"])
        if intent == "duplicate":
            person, _ = self.rng.choice(signed)
            record = self.record(petition, person)
            return Event(self.key(person, record), self.encode(record), intent, record["email"])
        if intent == "retry":  # the form resends the very same submission
            person, record = self.rng.choice(signed)
            value = self.codec.encode(record)
            return Event(self.key(person, record), value, intent, record["email"])
        person = self.new_person()  # a fresh person: a rejection must not take their key
        if intent == "malformed":
            record = self.record(petition, person)
            key, good = self.key(person, record), self.codec.encode(record)
            garbage = self.rng.choice(
                [
                    b"not avro at all",
                    good[:6],
                    good[:2] + bytes(8) + good[10:],
                    good[:-4],
                    good + b"\x00\x01",
                    b'{"email": "json@example.org"}',
                ]
            )
            return Event(key, garbage, intent)
        if intent == "oversized":
            record = self.record(petition, person, user_agent="A" * 17_000)
            return Event(self.key(person, record), self.codec.encode(record), intent)
        record = self.rule_breaker(intent, petition, person)
        return Event(self.key(person, record), self.encode(record), intent)

    def rule_breaker(self, intent: str, petition: DemoPetition, person: Person) -> dict[str, Any]:
        """A decodable record that breaks the rule ``intent`` names."""
        if intent == "unknown_petition":
            return self.record(petition, person, petition_id="no-such-petition")
        if intent == "future_timestamp":
            return self.record(petition, person, submitted_at=self.now + timedelta(hours=2))
        if intent == "petition_closed":
            return self.record(
                petition,
                person,
                petition_id="past-vote",
                submitted_at=self.now - timedelta(hours=1),
            )
        field, value = self.crowd.junk(intent)  # invalid_name, _country or _email
        return self.record(petition, person, **{field: value})

    def key(self, person: Person, record: dict[str, Any]) -> bytes:
        """The record's key on signatures.submitted: ``petition_id/bucket`` as the intake
        and the publisher write it, except for one signer in five, whose older form
        still keys by plain petition_id (both must count exactly)."""
        if zlib.crc32(person.local.encode()) % 5 == 0:
            return str(record["petition_id"]).encode()
        return submission_key_for(record["petition_id"], record["email"])

    def random_intents(self, count: int) -> list[str]:
        return self.rng.choices(INTENTS, list(INTENT_WEIGHTS.values()), k=count)

    def stream(self) -> Iterator[Event]:
        """Endless events (the demo feed)."""
        while True:
            yield self.event(self.random_intents(1)[0])

    def generate(self, count: int) -> list[Event]:
        events = [self.event(intent) for intent in self.random_intents(count)]
        # Guarantee every reason shows up at least once, whatever the seed.
        events += [self.event(intent) for intent in INTENTS]
        return events


def intent_counts(events: list[Event]) -> Counter[str]:
    counts = Counter(e.intent for e in events)
    counts["duplicate"] += counts.pop("retry", 0)
    return counts


def make_dataset(
    seed: int, count: int, now: datetime | None = None, *, hot_petition: bool = False
) -> tuple[list[Event], list[DemoPetition], datetime]:
    """``hot_petition``: every open-petition event goes to syria-icc (a surge)."""
    now = now or datetime.now(UTC).replace(microsecond=0)
    petitions = default_petitions(now)
    if hot_petition:
        petitions = [p for p in petitions if p.petition_id in ("syria-icc", "past-vote")]
    return DatasetGenerator(seed, petitions, now).generate(count), petitions, now
