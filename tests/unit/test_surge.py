"""The surge detector on an injected clock: a petition's or a domain's signatures
arriving far faster than in the hour before are reported once per cooldown; steady
traffic, however large, is not a surge, nor is anything before a baseline was seen."""

from __future__ import annotations

from streams.intake.surge import COOLDOWN_SECONDS, Surge, SurgeDetector

HOUR = 3600.0


def detector() -> SurgeDetector:
    return SurgeDetector(window_seconds=300, baseline_seconds=3600, factor=10, min_signatures=100)


def steady(found: SurgeDetector, per_minute: int, minutes: int, start: float = 0.0) -> list[Surge]:
    """People from many domains, evenly spread."""
    surges = []
    for minute in range(minutes):
        for n in range(per_minute):
            at = start + minute * 60 + n * 60 / per_minute
            surges += found.observe("p", f"person{n}@mail{minute % 40}.example", at)
    return surges


def wave(found: SurgeDetector, domain: str, count: int, start: float) -> list[Surge]:
    """``count`` signatures from one domain, ten a second."""
    return [s for n in range(count) for s in found.observe("p", f"b{n}@{domain}", start + n / 10)]


def test_steady_traffic_is_not_a_surge() -> None:
    assert steady(detector(), per_minute=50, minutes=90) == []


def test_nothing_is_a_surge_before_a_baseline_was_seen() -> None:
    assert wave(detector(), "bots.example", 1000, start=0) == []


def test_a_wave_from_one_domain_is_a_surge_of_that_domain_and_the_petition() -> None:
    found = detector()
    steady(found, per_minute=2, minutes=61)
    surges = wave(found, "bots.example", 300, start=HOUR + 60)
    assert {(s.petition_id, s.domain) for s in surges} == {("p", "bots.example"), ("p", None)}
    bots = next(s for s in surges if s.domain == "bots.example")
    assert bots.recent == 100 and bots.per_minute_before == 0
    assert "countersign sources --petition p" in bots.describe(300)


def test_a_surge_is_reported_once_per_cooldown() -> None:
    found = detector()
    steady(found, per_minute=2, minutes=61)
    first = wave(found, "bots.example", 2000, start=HOUR + 60)
    assert len([s for s in first if s.domain == "bots.example"]) == 1


def test_fewer_than_the_floor_is_never_a_surge() -> None:
    found = detector()
    steady(found, per_minute=1, minutes=61)
    assert wave(found, "bots.example", 90, start=HOUR + 60) == []  # 95 with the steady 5


def test_current_surges_are_forgotten_after_the_cooldown() -> None:
    found = detector()
    steady(found, per_minute=1, minutes=61)
    wave(found, "bots.example", 200, start=HOUR + 60)
    assert ("p", "bots.example") in found.current
    found.observe("p", "late@mail.example", HOUR + 60 + COOLDOWN_SECONDS + 100)
    assert ("p", "bots.example") not in found.current
