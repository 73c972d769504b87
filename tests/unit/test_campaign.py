"""The seed-campaign profile: its ground truth is what an independent reading of its
bytes says, and it looks like the campaign it imitates."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from schemas.codec import AvroCodec
from streams.demo.campaign import SEED_PETITION, GroundTruth, SeedCampaign
from streams.demo.traffic import signature
from streams.testing.reference import expected, regions

KEY = b"test-key"


def test_the_ground_truth_equals_the_reference_reading_of_the_bytes() -> None:
    codec = AvroCodec("SignatureSubmitted")
    truth = GroundTruth(SEED_PETITION)
    events = []
    for submission in SeedCampaign(seed=5, signatures=3_000):
        truth.taken(submission)
        events.append(
            (SEED_PETITION.encode(), codec.encode(signature(submission, SEED_PETITION).to_record()))
        )
    now = datetime.now(UTC)
    reference = expected(events, {SEED_PETITION: (now - timedelta(days=1), None)}, now, KEY)

    counts = truth.as_json()["petitions"][SEED_PETITION]
    assert counts["total"] == 3_000 == reference.total_accepted()
    assert counts["by_country"] == {c: n for (_, _, c), n in reference.counts.items()}
    assert counts["rejected"] == {r: n for (_, r), n in reference.reasons.items()}


def test_by_region_is_the_sum_of_its_countries() -> None:
    truth = GroundTruth(SEED_PETITION)
    for submission in SeedCampaign(seed=6, signatures=1_000):
        truth.taken(submission)
    counts = truth.as_json()["petitions"][SEED_PETITION]
    region_of = regions()
    by_region: Counter[str] = Counter()
    for country, n in counts["by_country"].items():
        by_region[region_of[country]] += n
    assert counts["by_region"] == dict(by_region)


def test_the_campaign_spans_five_regions_dozens_of_countries_and_many_scripts() -> None:
    people = [s for s in SeedCampaign(seed=7, signatures=5_000) if s.intent == "signature"]
    assert len(people) == 5_000
    assert len({regions()[s.fields["country"].upper()] for s in people}) == 5
    assert len({s.fields["country"].upper() for s in people}) >= 40
    scripts = {
        "arabic": "\u0600",
        "devanagari": "\u0900",
        "cyrillic": "\u0400",
        "cjk": "\u4e00",
        "hangul": "\uac00",
    }
    for script, start in scripts.items():
        low, high = ord(start), ord(start) + 0x100 if script != "cjk" else 0x9FFF
        assert any(any(low <= ord(ch) <= high for ch in s.fields["full_name"]) for s in people), (
            script
        )


def test_the_same_seed_gives_the_same_campaign() -> None:
    first = [s.fields for s in SeedCampaign(seed=8, signatures=200)]
    again = [s.fields for s in SeedCampaign(seed=8, signatures=200)]
    assert first == again
