"""First in stream order wins; a redelivered winner is forwarded, never a duplicate;
partial counts are derived from the winners; the fold takes each partition's largest
report, so redelivered, late or stale reports never move a total."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.rules.aggregate import fold, regional_count, total
from streams.rules.dedupe import Outcome, PartialCounts, Winner, decide, duplicate_detail
from streams.rules.keys import DedupeKey

HASH_A = "a" * 64
HASH_B = "b" * 64


def test_the_first_signature_of_a_key_is_accepted() -> None:
    assert decide(Winner("SY", 2, 1, 0), None) is Outcome.ACCEPTED


def test_a_later_signature_with_the_same_key_is_a_duplicate() -> None:
    assert decide(Winner("SY", 2, 9, 0), Winner("SY", 2, 1, 0)) is Outcome.DUPLICATE


def test_the_same_offset_in_another_partition_is_a_duplicate() -> None:
    assert decide(Winner("SY", 3, 1, 0), Winner("SY", 2, 1, 0)) is Outcome.DUPLICATE


def test_the_winner_redelivered_is_replayed_not_a_duplicate() -> None:
    assert decide(Winner("SY", 2, 1, 0), Winner("SY", 2, 1, 0)) is Outcome.REPLAYED


def test_a_duplicate_names_where_the_winner_sits() -> None:
    assert "signatures.submitted 2/1" in duplicate_detail("p", Winner("SY", 2, 1, 0))


def test_a_winner_survives_its_encoding() -> None:
    winner = Winner("XK", 5, 123_456_789, 3)
    assert Winner.decode(winner.encode()) == winner
    assert winner.encode() == b"XK 5 123456789 3"


def test_an_item_of_a_batch_remembers_its_index() -> None:
    winner = Winner("XK", 5, 123_456_789, 3, index=17)
    assert winner.encode() == b"XK 5 123456789 3 17"
    assert Winner.decode(winner.encode()) == winner


def test_two_items_of_one_batch_with_one_key_are_a_winner_and_a_duplicate() -> None:
    assert decide(Winner("SY", 2, 1, 0, index=4), Winner("SY", 2, 1, 0, index=3)) is (
        Outcome.DUPLICATE
    )


def test_an_item_of_a_batch_redelivered_is_replayed() -> None:
    assert decide(Winner("SY", 2, 1, 0, index=4), Winner("SY", 2, 1, 0, index=4)) is (
        Outcome.REPLAYED
    )


def test_a_duplicate_names_the_item_of_a_batch_that_won() -> None:
    assert "signatures.submitted 2/1#4" in duplicate_detail("p", Winner("SY", 2, 1, 0, index=4))


def test_the_home_partition_never_decides() -> None:
    assert decide(Winner("SY", 2, 1, 4), Winner("SY", 2, 1, 0)) is Outcome.REPLAYED


def test_partial_counts_count_each_new_winner_once() -> None:
    partial = PartialCounts()
    partial.add("p", "SY", 1)
    partial.add("p", "SY", 1)
    partial.add("p", "FR", 1)
    partial.add("q", "FR", 4)
    assert partial.take_changed() == [(("p", 1), {"SY": 2, "FR": 1}), (("q", 4), {"FR": 1})]
    assert partial.take_changed() == []  # nothing moved since


def test_only_the_petition_partitions_that_moved_are_published_again() -> None:
    partial = PartialCounts()
    partial.add("p", "SY", 1)
    partial.add("q", "FR", 4)
    partial.take_changed()
    partial.add("p", "FR", 1)
    assert partial.take_changed() == [(("p", 1), {"SY": 1, "FR": 1})]


def test_partial_counts_rebuilt_from_winners_equal_the_live_ones() -> None:
    entries = [
        (DedupeKey("p", HASH_A).table_key(), Winner("SY", 0, 1, 1).encode()),
        (DedupeKey("p", HASH_B).table_key(), Winner("SY", 0, 2, 4).encode()),
        (DedupeKey("q", HASH_A).table_key(), Winner("FR", 1, 3, 1).encode()),
    ]
    rebuilt = PartialCounts.rebuild(entries)
    # Counted on each winner's home partition (1, 4, 1), not where it was submitted.
    assert rebuilt.counts == {("p", 1): {"SY": 1}, ("p", 4): {"SY": 1}, ("q", 1): {"FR": 1}}
    assert rebuilt.total() == 3
    assert len(rebuilt.take_changed()) == 3  # a new owner publishes everything again


def test_the_fold_keeps_each_partitions_largest_report() -> None:
    partials, moved = fold(None, 0, {"SY": 5})
    assert (partials, moved) == ({"SY": {"0": 5}}, ["SY"])
    partials, moved = fold(partials, 3, {"SY": 2, "FR": 1})
    assert partials == {"SY": {"0": 5, "3": 2}, "FR": {"3": 1}}
    assert moved == ["FR", "SY"]
    assert total(partials["SY"]) == 7


def test_a_redelivered_or_stale_report_moves_nothing() -> None:
    partials = {"SY": {"0": 5, "3": 2}}
    assert fold(partials, 0, {"SY": 5})[1] == []  # the same number again
    assert fold(partials, 0, {"SY": 4})[1] == []  # older, late or from a former owner
    assert fold(partials, 0, {"SY": 4})[0] == partials


def test_the_fold_leaves_its_input_alone() -> None:
    partials = {"SY": {"0": 5}}
    fold(partials, 0, {"SY": 9})
    assert partials == {"SY": {"0": 5}}


def test_a_regional_count_carries_the_region_and_the_sum() -> None:
    now = datetime(2026, 5, 2, tzinfo=UTC)
    record = regional_count("p", "SY", {"0": 5, "3": 2}, now)
    assert record == {
        "petition_id": "p",
        "region": "Middle East and North Africa",
        "country": "SY",
        "signatures": 7,
        "updated_at": now,
    }


def test_the_candidate_of_an_accepted_record_is_its_country_and_source_position() -> None:
    record = {"country": "SY", "source_partition": 2, "source_offset": 41, "petition_id": "p"}
    assert Winner.of(record, home=5) == Winner("SY", 2, 41, 5)
