"""First in stream order wins; a redelivered winner is forwarded, never a duplicate;
totals are derived from the set of counted keys."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.rules.aggregate import RunningCounts, count_key, minute_of, regional_count
from streams.rules.dedupe import Outcome, decide, winner


def accepted(offset: int, signature_id: str = "s1") -> dict[str, object]:
    return {
        "signature_id": signature_id,
        "petition_id": "p",
        "country": "SY",
        "region": "Middle East and North Africa",
        "submitted_at": datetime(2026, 5, 1, 12, 30, 45, tzinfo=UTC),
        "source_topic": "signatures.submitted",
        "source_partition": 2,
        "source_offset": offset,
    }


def test_the_first_signature_of_a_key_is_accepted() -> None:
    decision = decide(accepted(1), winner_of_key=None, winner_of_signature=None)
    assert decision.outcome is Outcome.ACCEPTED


def test_a_later_signature_with_the_same_key_is_a_duplicate_naming_the_winner() -> None:
    first = winner(accepted(1, "s1"))
    decision = decide(accepted(9, "s2"), winner_of_key=first, winner_of_signature=None)
    assert decision.outcome is Outcome.DUPLICATE
    assert "signatures.submitted/2/1" in decision.detail


def test_a_retried_signature_id_is_a_duplicate() -> None:
    first = winner(accepted(1, "s1"))
    decision = decide(accepted(5, "s1"), winner_of_key=None, winner_of_signature=first)
    assert decision.outcome is Outcome.DUPLICATE
    assert "retried submission" in decision.detail


def test_the_winner_redelivered_is_replayed_not_a_duplicate() -> None:
    first = winner(accepted(1))
    decision = decide(accepted(1), winner_of_key=first, winner_of_signature=first)
    assert decision.outcome is Outcome.REPLAYED


def test_minutes_are_event_time_minutes() -> None:
    moment = datetime(2026, 5, 1, 12, 30, 45, tzinfo=UTC)
    assert minute_of(moment) == int(datetime(2026, 5, 1, 12, 30, tzinfo=UTC).timestamp())


def test_counts_rebuilt_from_counted_keys_equal_counts_added_one_by_one() -> None:
    entries = [("p:h1", ["p:SY", 60]), ("p:h2", ["p:SY", 60]), ("p:h3", ["p:FR", 120])]
    live = RunningCounts()
    for _, (key, minute) in entries:
        live.add(key, minute)
    rebuilt = RunningCounts.rebuild(entries)
    assert (rebuilt.totals, rebuilt.minutes) == (live.totals, live.minutes)
    assert rebuilt.totals == {"p:SY": 2, "p:FR": 1}


def test_regional_count_reports_the_running_total_and_the_minute() -> None:
    record = accepted(1)
    counts = RunningCounts()
    minute = minute_of(record["submitted_at"])  # type: ignore[arg-type]
    counts.add(count_key("p", "SY"), minute)
    counts.add(count_key("p", "SY"), minute)
    published = regional_count(record, counts=counts, now=datetime(2026, 5, 2, tzinfo=UTC))
    assert published["signatures"] == 2
    assert published["minute_signatures"] == 2
    assert published["minute"] == datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
