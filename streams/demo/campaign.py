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

from faker import Faker

from streams.core.catalogue import Petition, new_petition
from streams.demo.simulator import spell_email
from streams.rules.countries import region_of

SEED_PETITION = "syria-icc"
SEED_SIGNATURES = 165_953


def seed_petition(now: datetime) -> Petition:
    """The seed petition's catalogue record (deploy/petitions/syria-icc.json says the
    same for ``countersign petitions add --file``)."""
    return new_petition(
        SEED_PETITION,
        "Syria: refer the situation to the International Criminal Court",
        description="We call on the UN Security Council to refer the situation in Syria to "
        "the International Criminal Court, so that those responsible for crimes under "
        "international law are brought to justice.",
        opens_at="2026-01-01T00:00:00Z",
        thresholds=[10_000, 50_000, 100_000, SEED_SIGNATURES],
        now=now,
    )


#: (country code, Faker locale for names, weight): dozens of countries, five regions.
COUNTRIES: list[tuple[str, str, int]] = [
    # Middle East and North Africa
    ("SY", "ar_SA", 60), ("LB", "ar_AA", 30), ("JO", "ar_AA", 25), ("EG", "ar_SA", 30),
    ("PS", "ar_PS", 15), ("SA", "ar_SA", 10), ("AE", "ar_AA", 8), ("DZ", "fr_DZ", 8),
    ("MA", "fr_FR", 10), ("TN", "fr_FR", 8), ("IL", "he_IL", 6), ("IR", "fa_IR", 8),
    # Europe and Central Asia
    ("FR", "fr_FR", 60), ("DE", "de_DE", 55), ("GB", "en_GB", 50), ("IT", "it_IT", 35),
    ("ES", "es_ES", 35), ("NL", "nl_NL", 20), ("SE", "sv_SE", 15), ("PL", "pl_PL", 15),
    ("TR", "tr_TR", 30), ("RU", "ru_RU", 20), ("UA", "uk_UA", 12), ("GR", "el_GR", 8),
    ("AM", "hy_AM", 4), ("GE", "ka_GE", 4), ("AZ", "az_AZ", 3), ("UZ", "uz_UZ", 3),
    ("XK", "bs_BA", 2),
    # Americas
    ("US", "en_US", 55), ("CA", "fr_CA", 25), ("BR", "pt_BR", 35), ("MX", "es_MX", 25),
    ("AR", "es_AR", 15), ("CO", "es_CO", 12), ("CL", "es_CL", 8), ("VE", "es_VE", 5),
    # Asia and the Pacific
    ("IN", "hi_IN", 40), ("PK", "en_PK", 15), ("BD", "bn_BD", 10), ("ID", "id_ID", 15),
    ("PH", "en_PH", 12), ("JP", "ja_JP", 10), ("KR", "ko_KR", 8), ("CN", "zh_CN", 8),
    ("TW", "zh_TW", 4), ("TH", "th_TH", 6), ("VN", "vi_VN", 6), ("NP", "ne_NP", 4),
    ("LK", "si_LK", 3), ("AU", "en_AU", 20), ("NZ", "en_NZ", 6),
    # Africa
    ("NG", "yo_NG", 25), ("KE", "en_KE", 12), ("ZA", "zu_ZA", 15), ("GH", "tw_GH", 8),
    ("ET", "en_KE", 6), ("SN", "fr_FR", 5), ("TZ", "sw", 5),
]  # fmt: skip
DOMAINS = [
    ("gmail.com", 30), ("googlemail.com", 3), ("yahoo.com", 10), ("outlook.com", 10),
    ("hotmail.fr", 5), ("web.de", 4), ("mail.ru", 3), ("qq.com", 2), ("example.org", 10),
    ("uni.example.ac.uk", 2), ("bücher.example", 1), ("пример.example", 1),
]  # fmt: skip
#: Per first signature: how likely each extra kind of event is.
DUPLICATE_RATE = 0.04  # signs again later, with another spelling of the same email
RETRY_RATE = 0.01  # the form resends the very same submission (same signature_id)
TYPO_RATE = 0.02  # a typo in the email first, corrected on the second try
JUNK_RATE = 0.01  # bots and nonsense: a bad name, country or email

JUNK = {
    "invalid_name": ["", "   ", "x" * 201, "Bad\nName", "\x00"],
    "invalid_country": ["UK", "EU", "ZZ", "SYR", "12", ""],
    "invalid_email": ["not-an-email", "a@@example.org", "me@localhost", "@example.org"],
}


@dataclass(frozen=True)
class Person:
    number: int
    name: str
    local: str
    domain: str
    country: str  # the canonical code; forms may send it in any case
    ip: str


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
        self.signatures = signatures
        self.petition_id = petition_id
        self._fakers: dict[str, Faker] = {}
        self._codes = [c for c, _, _ in COUNTRIES]
        self._locales = {c: loc for c, loc, _ in COUNTRIES}
        self._weights = [w for _, _, w in COUNTRIES]
        self._signed: list[tuple[Person, dict[str, Any]]] = []
        self._ips = 0

    def faker(self, locale: str) -> Faker:
        if locale not in self._fakers:
            fake = Faker(locale)
            fake.seed_instance(self.rng.getrandbits(32))
            self._fakers[locale] = fake
        return self._fakers[locale]

    def new_ip(self) -> str:
        """A fresh client address in 10.0.0.0/8 (sent as X-Forwarded-For)."""
        self._ips += 1
        n = self._ips
        return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"

    def new_person(self, number: int) -> Person:
        country = self.rng.choices(self._codes, self._weights)[0]
        fake = self.faker(self._locales[country])
        given = self.faker("en_US").first_name().lower()
        local = f"{given}.{self.rng.choice('abcdefghijklmnopqrstuvwxyz')}{number}"
        domain = self.rng.choices([d for d, _ in DOMAINS], [w for _, w in DOMAINS])[0]
        return Person(number, fake.name(), local, domain, country, self.new_ip())

    def spelling(self, person: Person) -> str:
        return spell_email(self.rng, person.local, person.domain)

    def fields(self, person: Person, **changes: Any) -> dict[str, Any]:
        return {
            "signature_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "full_name": person.name,
            "email": self.spelling(person),
            "country": person.country if self.rng.random() < 0.8 else person.country.lower(),
            "postal_code": self.faker(self._locales[person.country]).postcode()
            if self.rng.random() < 0.4
            else None,
            "consent_to_publish_name": self.rng.random() < 0.7,
            "locale": self._locales[person.country].replace("_", "-"),
        } | changes

    def typo(self, person: Person) -> str:
        address = f"{person.local}@{person.domain}"
        return self.rng.choice(
            [
                address.replace("@", ""),
                address.replace(".com", "com").replace(".org", "org").replace(".de", "de"),
                address.replace("@", "@@"),
            ]
        )

    def __iter__(self) -> Iterator[Submission]:
        for number in range(self.signatures):
            person = self.new_person(number)
            if self.rng.random() < TYPO_RATE:
                typo_email = self.typo(person)
                if "." not in typo_email.split("@")[-1] or typo_email.count("@") != 1:
                    yield Submission(
                        self.fields(person, email=typo_email), "invalid_email", None, person.ip
                    )
            record = self.fields(person)
            self._signed.append((person, record))
            yield Submission(record, "signature", person, person.ip)
            roll = self.rng.random()
            if roll < DUPLICATE_RATE:
                again, _ = self.rng.choice(self._signed)
                yield Submission(self.fields(again), "duplicate", again, self.new_ip())
            elif roll < DUPLICATE_RATE + RETRY_RATE:
                again, sent = self.rng.choice(self._signed)
                yield Submission(dict(sent), "retry", again, again.ip)
            elif roll < DUPLICATE_RATE + RETRY_RATE + JUNK_RATE:
                reason = self.rng.choice(sorted(JUNK))
                bogus = self.new_person(self.signatures + number)
                junk = self.fields(bogus, **{_JUNK_FIELD[reason]: self.rng.choice(JUNK[reason])})
                yield Submission(junk, reason, None, bogus.ip)


_JUNK_FIELD = {"invalid_name": "full_name", "invalid_country": "country", "invalid_email": "email"}


@dataclass
class GroundTruth:
    """What the pipeline must count for the submissions that reached Kafka.

    ``taken(submission)`` for every event on ``signatures.submitted`` (a 202, or a
    direct produce); ``refused(submission, status)`` for what the intake turned away.
    """

    petition_id: str
    signers: set[int] = field(default_factory=set)
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
                }
            },
            "intake": dict(sorted(self.intake.items())),
            "written_at": datetime.now(UTC).isoformat(),
        }
