"""The region scheme covers every assigned country code exactly once."""

from __future__ import annotations

import csv
from collections import Counter

import pycountry
import pytest

from streams.rules.countries import REGIONS_DIR, region_of, region_scheme

FIVE_REGIONS = {
    "Africa",
    "Americas",
    "Asia and the Pacific",
    "Europe and Central Asia",
    "Middle East and North Africa",
}


def rows() -> list[dict[str, str]]:
    with (REGIONS_DIR / "five_regions.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def test_every_assigned_code_and_kosovo_is_mapped() -> None:
    expected = {country.alpha_2 for country in pycountry.countries} | {"XK"}
    assert {row["code"] for row in rows()} == expected


def test_no_code_is_mapped_twice() -> None:
    doubled = [code for code, n in Counter(row["code"] for row in rows()).items() if n > 1]
    assert doubled == []


def test_every_region_is_one_of_the_five() -> None:
    assert {row["region"] for row in rows()} == FIVE_REGIONS


@pytest.mark.parametrize(
    ("code", "region"),
    [
        ("SY", "Middle East and North Africa"),
        ("EG", "Middle East and North Africa"),
        ("NG", "Africa"),
        ("ZA", "Africa"),
        ("BR", "Americas"),
        ("CA", "Americas"),
        ("IN", "Asia and the Pacific"),
        ("FJ", "Asia and the Pacific"),
        ("FR", "Europe and Central Asia"),
        ("KZ", "Europe and Central Asia"),
        ("TR", "Europe and Central Asia"),
        ("XK", "Europe and Central Asia"),
    ],
)
def test_well_known_countries(code: str, region: str) -> None:
    assert region_of(code) == region


def test_a_scheme_is_just_a_file() -> None:
    assert set(region_scheme("five_regions").values()) == FIVE_REGIONS
