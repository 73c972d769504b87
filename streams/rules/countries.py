"""Countries (ISO 3166-1 alpha-2, plus XK) and the region schemes that group them.

Validity comes from pycountry's list of officially assigned codes; regions come from
data files under ``streams/regions/`` (``<scheme>.csv``: code,region,name), one per
scheme, so a new grouping is a new file, not new code.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import pycountry

from streams.rules.reasons import Reason, RuleViolation

REGIONS_DIR = Path(__file__).resolve().parent.parent / "regions"
DEFAULT_SCHEME = "five_regions"
#: Kosovo: user-assigned in ISO 3166-1, accepted by the contract.
EXTRA_CODES = frozenset({"XK"})


@cache
def assigned_codes() -> frozenset[str]:
    return frozenset(country.alpha_2 for country in pycountry.countries) | EXTRA_CODES


def normalize_country(raw: str) -> str:
    """The upper-case code, or ``RuleViolation(invalid_country)``."""
    code = raw.strip().upper()
    if code not in assigned_codes():
        raise RuleViolation(Reason.INVALID_COUNTRY, _what_is_wrong(code))
    return code


def _what_is_wrong(code: str) -> str:
    """Why ``code`` is no country, without repeating it (a dead letter keeps this, and
    the field may hold anything a signer typed)."""
    if len(code) == 2 and code.isascii() and code.isalpha():
        return "two letters, but not an assigned ISO 3166-1 alpha-2 country code"
    return f"not an ISO 3166-1 alpha-2 country code (two letters; {len(code)} characters given)"


@cache
def region_scheme(scheme: str = DEFAULT_SCHEME) -> Mapping[str, str]:
    """``{country code: region}`` of one scheme file."""
    path = REGIONS_DIR / f"{scheme}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return {row["code"]: row["region"] for row in rows}


def region_of(code: str, scheme: str = DEFAULT_SCHEME) -> str:
    return region_scheme(scheme)[code]


def has_region(code: str, scheme: str = DEFAULT_SCHEME) -> bool:
    """Whether ``code`` is a country the scheme places (what a count may be kept of)."""
    return code in region_scheme(scheme)
