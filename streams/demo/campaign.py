"""The ``seed-campaign`` profile: traffic shaped like the campaign that inspired us.

165,953 people sign one petition from dozens of countries in all five regions, with
names from Faker's locales (Arabic, Devanagari, Cyrillic, CJK, Latin and more). Around
them, what real campaigns see: people signing twice with another spelling of their
email, forms resending the same submission, typos corrected on the second try, and
junk. Each ``Submission`` knows who sent it and what it was meant to be, so the
simulator can write the ground truth of what the pipeline must count.

The truth is computed from those intentions, not with the pipeline's code: a person
counts once, in the country the simulator chose for them; everything else they send
is a duplicate; a rejected submission counts under its reason.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from streams.catalogue.store import Petition, new_petition
from streams.demo.mailbox import mailbox_of
from streams.demo.people import JUNK, Crowd, Person
from streams.rules.countries import region_of

SEED_PETITION = "syria-icc"
SEED_SIGNATURES = 165_953


def seed_petition(now: datetime, confirmation: str = "email") -> Petition:
    """The seed petition's catalogue record (deploy/petitions/syria-icc.json says the
    same for ``countersign petitions add --file``); ``confirmation="none"`` counts
    every accepted signature at once."""
    return new_petition(
        SEED_PETITION,
        "Syria: refer the situation to the International Criminal Court",
        description="We call on the UN Security Council to refer the situation in Syria to "
        "the International Criminal Court, so that those responsible for crimes under "
        "international law are brought to justice.",
        opens_at="2026-01-01T00:00:00Z",
        thresholds=[10_000, 50_000, 100_000, SEED_SIGNATURES],
        confirmation=confirmation,
        now=now,
    )


#: Per first signature: how likely each extra kind of event is.
DUPLICATE_RATE = 0.04  # signs again later, with another spelling of the same email
RETRY_RATE = 0.01  # the form resends the very same submission (same signature_id)
TYPO_RATE = 0.02  # a typo in the email first, corrected on the second try
JUNK_RATE = 0.01  # bots and nonsense: a bad name, country or email


@dataclass(frozen=True)
class Submission:
    """One sign event as a form would send it, and what it is meant to be."""

    fields: dict[str, Any]
    intent: str  # "signature", "duplicate", "retry" or a reason code
    person: Person | None  # None: junk from nobody in particular
    client_ip: str

    @property
    def signature_id(self) -> str:
        return str(self.fields["signature_id"])


class SeedCampaign:
    """Yields ``Submission``s until ``signatures`` people have signed (with the extras
    around them); the same seed gives the same campaign."""

    def __init__(
        self, seed: int = 1, signatures: int = SEED_SIGNATURES, petition_id: str = SEED_PETITION
    ) -> None:
        self.rng = random.Random(seed)
        self.crowd = Crowd(self.rng)
        self.signatures = signatures
        self.petition_id = petition_id
        self._signed: list[tuple[Person, dict[str, Any]]] = []

    def fields(self, person: Person, **changes: Any) -> dict[str, Any]:
        return {
            "signature_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "full_name": person.name,
            "email": self.crowd.email(person),
            "country": self.crowd.country(person),
            "postal_code": self.crowd.postal_code(person),
            "consent_to_publish_name": self.rng.random() < 0.7,
            "locale": person.locale.replace("_", "-"),
        } | changes

    def __iter__(self) -> Iterator[Submission]:
        crowd = self.crowd
        while crowd.size < self.signatures:
            person = crowd.new_person()
            if self.rng.random() < TYPO_RATE:
                typo = self.fields(person, email=crowd.typo(person))
                yield Submission(typo, "invalid_email", None, person.ip)
            record = self.fields(person)
            self._signed.append((person, record))
            yield Submission(record, "signature", person, person.ip)
            roll = self.rng.random()
            if roll < DUPLICATE_RATE:
                again, _ = self.rng.choice(self._signed)
                yield Submission(self.fields(again), "duplicate", again, crowd.new_ip())
            elif roll < DUPLICATE_RATE + RETRY_RATE:
                again, sent = self.rng.choice(self._signed)
                yield Submission(dict(sent), "retry", again, again.ip)
            elif roll < DUPLICATE_RATE + RETRY_RATE + JUNK_RATE:
                reason = self.rng.choice(sorted(JUNK))
                field, value = crowd.junk(reason)
                junk = self.fields(person, **{field: value})
                yield Submission(junk, reason, None, crowd.new_ip())


@dataclass
class GroundTruth:
    """What the pipeline must count for the submissions that reached Kafka.

    ``taken(submission)`` for every event on ``signatures.submitted`` (a 202, or a
    direct produce); ``refused(submission, status)`` for what the intake turned away.
    """

    petition_id: str
    signers: set[int] = field(default_factory=set)
    #: Each signer's mailbox (normalized address) and country: who would get a mail.
    mailboxes: dict[str, str] = field(default_factory=dict)
    by_country: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    intake: Counter[str] = field(default_factory=Counter)

    def taken(self, submission: Submission, status: str = "202") -> None:
        self.intake[status] += 1
        person = submission.person
        if person is None:
            self.rejected[submission.intent] += 1
        elif person.number in self.signers:
            self.rejected["duplicate"] += 1
        else:
            self.signers.add(person.number)
            self.by_country[person.country] += 1
            self.mailboxes[mailbox_of(f"{person.local}@{person.domain}")] = person.country

    def refused(self, status: int | str) -> None:
        self.intake[str(status)] += 1

    def as_json(self) -> dict[str, Any]:
        by_region: Counter[str] = Counter()
        for country, n in self.by_country.items():
            by_region[region_of(country)] += n
        return {
            "petitions": {
                self.petition_id: {
                    "petition_id": self.petition_id,
                    "total": sum(self.by_country.values()),
                    "by_region": dict(sorted(by_region.items())),
                    "by_country": dict(sorted(self.by_country.items())),
                    "rejected": dict(sorted(self.rejected.items())),
                    "signers": dict(sorted(self.mailboxes.items())),
                }
            },
            "intake": dict(sorted(self.intake.items())),
            "written_at": datetime.now(UTC).isoformat(),
        }
