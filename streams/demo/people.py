"""The people of every simulated campaign: one data set for the demo feed, the seed
campaign, the tests and the benchmarks.

Countries from all five regions with a Faker locale each (so names come in Arabic,
Devanagari, Cyrillic, CJK, Latin and more), mail domains that exercise the email rules
(Gmail dots, googlemail.com, internationalized domains), the ways people type their
address, and the junk bots and typos send. A ``Crowd`` draws people from it with one
random generator, so one seed always gives the same people.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from faker import Faker

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
DOMAINS: list[tuple[str, int]] = [
    ("gmail.com", 30), ("googlemail.com", 3), ("yahoo.com", 10), ("outlook.com", 10),
    ("hotmail.fr", 5), ("web.de", 4), ("mail.ru", 3), ("qq.com", 2), ("example.org", 10),
    ("uni.example.ac.uk", 2), ("bücher.example", 1), ("пример.example", 1),
]  # fmt: skip
#: What bots and broken forms send, by the reason the pipeline must give.
JUNK: dict[str, list[str]] = {
    "invalid_name": ["", "   ", "x" * 201, "Bad\nName", "Nul\x00", "\x00"],
    "invalid_country": ["UK", "EU", "ZZ", "SYR", "12", ""],
    "invalid_email": [
        "not-an-email",
        "a@@example.org",
        "me@localhost",
        "@example.org",
        "sp ace@example.org",
        "+tag@example.org",
        "(1)comment@example.org",
    ],
}
#: The submission field each kind of junk goes into.
JUNK_FIELD = {"invalid_name": "full_name", "invalid_country": "country", "invalid_email": "email"}


_FAKERS: dict[str, Faker] = {}


@dataclass(frozen=True)
class Person:
    number: int  # unique within one crowd: the ground truth counts people by it
    name: str
    local: str
    domain: str
    country: str  # the canonical code; forms may send it in any case
    locale: str
    ip: str


def spell_email(rng: random.Random, local: str, domain: str) -> str:
    """One of the ways a person types their address; every one is the same mailbox
    once normalized (case, a +tag, Gmail dots and googlemail.com, pasted spaces)."""
    roll = rng.random()
    if roll < 0.2:
        local, domain = local.upper(), domain.upper()
    elif roll < 0.35:
        local = f"{local}+{rng.choice(['petition', 'news', 'x1'])}"
    elif roll < 0.5 and domain in ("gmail.com", "googlemail.com"):
        local = ".".join(local.replace(".", ""))
        domain = rng.choice(["gmail.com", "googlemail.com"])
    elif roll < 0.6:
        return f" {local.title()}@{domain} "
    return f"{local}@{domain}"


class Crowd:
    """People drawn from the data set with ``rng``: the same seed, the same people."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.size = 0
        self._ips = 0
        self._seeded: set[str] = set()
        self._codes = [c for c, _, _ in COUNTRIES]
        self._locales = {c: loc for c, loc, _ in COUNTRIES}
        self._weights = [w for _, _, w in COUNTRIES]
        self._domains = [d for d, _ in DOMAINS]
        self._domain_weights = [w for _, w in DOMAINS]

    def faker(self, locale: str) -> Faker:
        """The locale's Faker, seeded from this crowd's generator when the crowd first
        uses it. Instances are shared by the crowds of a process (making one costs
        ~50 ms); two crowds drawn from in turn would share their random state."""
        fake = _FAKERS.get(locale)
        if fake is None:
            fake = _FAKERS[locale] = Faker(locale, use_weighting=False)
        if locale not in self._seeded:
            fake.seed_instance(self.rng.getrandbits(32))
            self._seeded.add(locale)
        return fake

    def new_person(self) -> Person:
        """Someone new, with an address no earlier member of the crowd has (the number
        is in it) and, from another seed, almost surely no one else's either."""
        number = self.size
        self.size += 1
        country = self.rng.choices(self._codes, self._weights)[0]
        locale = self._locales[country]
        given = self.faker("en_US").first_name().lower()
        local = f"{given}.{self.rng.choice('abcdefghijklmnopqrstuvwxyz')}{number}"
        domain = self.rng.choices(self._domains, self._domain_weights)[0]
        name = self.faker(locale).name()
        return Person(number, name, local, domain, country, locale, self.new_ip())

    def new_ip(self) -> str:
        """A client address in 10.0.0.0/8 no one in this crowd has used yet."""
        self._ips += 1
        n = self._ips
        return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"

    def email(self, person: Person) -> str:
        return spell_email(self.rng, person.local, person.domain)

    def country(self, person: Person) -> str:
        """The country as a form sends it: usually upper case, sometimes not."""
        return person.country if self.rng.random() < 0.8 else person.country.lower()

    def postal_code(self, person: Person) -> str | None:
        return self.faker(person.locale).postcode() if self.rng.random() < 0.4 else None

    def typo(self, person: Person) -> str:
        """An address mistyped so the email rules refuse it."""
        address = f"{person.local}@{person.domain}"
        return self.rng.choice(
            [address.replace("@", ""), address.replace("@", "@@"), f"{person.local}@localhost"]
        )

    def junk(self, reason: str) -> tuple[str, str]:
        """(field, value) that breaks the rule ``reason`` names."""
        return JUNK_FIELD[reason], self.rng.choice(JUNK[reason])
