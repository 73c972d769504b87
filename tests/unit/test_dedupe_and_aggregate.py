"""First in stream order wins; a redelivered winner is forwarded, never a duplicate;
partial counts are derived from the dedupe entries with a version that grows with
every change; the fold keeps each partition's newest report, so redelivered, late or
stale reports never move a total."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.rules.aggregate import DueCounts, fold, regional_count
from streams.rules.cut import HomeCut
from streams.rules.dedupe import (
    Outcome,
    PartialCounts,
    Status,
    Winner,
    confirm,
    decide,
    duplicate_detail,
    moderate,
)
from streams.rules.keys import DedupeKey

HASH_A = "a" * 64
HASH_B = "b" * 64
PENDING = Status.PENDING
CONFIRMED = Status.CONFIRMED


def outcome(candidate: Winner, stored: Winner | None) -> Outcome:
    return decide(candidate, stored)[0]


def test_the_first_signature_of_a_key_is_accepted() -> None:
    assert decide(Winner("SY", 2, 1, 0), None) == (Outcome.ACCEPTED, Winner("SY", 2, 1, 0))


def test_a_later_signature_with_the_same_key_is_a_duplicate() -> None:
    assert outcome(Winner("SY", 2, 9, 0), Winner("SY", 2, 1, 0)) is Outcome.DUPLICATE


def test_the_same_offset_in_another_partition_is_a_duplicate() -> None:
    assert outcome(Winner("SY", 3, 1, 0), Winner("SY", 2, 1, 0)) is Outcome.DUPLICATE


def test_the_winner_redelivered_is_replayed_not_a_duplicate() -> None:
    assert outcome(Winner("SY", 2, 1, 0), Winner("SY", 2, 1, 0)) is Outcome.REPLAYED


def test_a_replayed_winner_keeps_its_stored_status() -> None:
    stored = Winner("SY", 2, 1, 0, status=CONFIRMED, changes=1)
    assert decide(Winner("SY", 2, 1, 0, status=PENDING), stored) == (Outcome.REPLAYED, stored)


def test_signing_again_while_pending_resends_the_mail_instead_of_a_duplicate() -> None:
    stored = Winner("SY", 2, 1, 0, status=PENDING)
    assert decide(Winner("FR", 2, 9, 0, status=PENDING), stored) == (Outcome.RESENT, stored)


def test_signing_again_once_confirmed_is_a_duplicate() -> None:
    stored = Winner("SY", 2, 1, 0, status=CONFIRMED, changes=1)
    assert outcome(Winner("SY", 2, 9, 0, status=PENDING), stored) is Outcome.DUPLICATE


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


def test_a_status_and_its_changes_survive_the_encoding() -> None:
    winner = Winner("XK", 5, 12, 3, status=CONFIRMED, changes=1)
    assert winner.encode() == b"XK 5 12 3 0 c 1"
    assert Winner.decode(winner.encode()) == winner


def test_a_placeholder_survives_the_encoding() -> None:
    placeholder = Winner.placeholder(4, confirmed=True)
    assert Winner.decode(placeholder.encode()) == placeholder
    assert placeholder.is_placeholder and not placeholder.counted and not placeholder.pending


def test_two_items_of_one_batch_with_one_key_are_a_winner_and_a_duplicate() -> None:
    assert outcome(Winner("SY", 2, 1, 0, index=4), Winner("SY", 2, 1, 0, index=3)) is (
        Outcome.DUPLICATE
    )


def test_an_item_of_a_batch_redelivered_is_replayed() -> None:
    assert outcome(Winner("SY", 2, 1, 0, index=4), Winner("SY", 2, 1, 0, index=4)) is (
        Outcome.REPLAYED
    )


def test_a_duplicate_names_the_item_of_a_batch_that_won() -> None:
    assert "signatures.submitted 2/1#4" in duplicate_detail("p", Winner("SY", 2, 1, 0, index=4))


def test_the_home_partition_never_decides() -> None:
    assert outcome(Winner("SY", 2, 1, 4), Winner("SY", 2, 1, 0)) is Outcome.REPLAYED


def test_the_candidate_of_an_accepted_record_is_its_country_and_source_position() -> None:
    record = {"country": "SY", "source_partition": 2, "source_offset": 41, "petition_id": "p"}
    assert Winner.of(record, home=5) == Winner("SY", 2, 41, 5)


def test_a_candidate_that_must_confirm_is_pending() -> None:
    record = {"country": "SY", "source_partition": 2, "source_offset": 41}
    assert Winner.of({**record, "confirmation_required": True}, home=5).status is PENDING


# -- confirmation -------------------------------------------------------------------


def test_confirming_a_pending_winner_makes_it_counted() -> None:
    confirmed = confirm(Winner("SY", 2, 1, 0, status=PENDING), home=0)
    assert confirmed == Winner("SY", 2, 1, 0, status=CONFIRMED, changes=1)
    assert confirmed.counted


def test_confirming_twice_changes_nothing() -> None:
    assert confirm(Winner("SY", 2, 1, 0, status=CONFIRMED, changes=1), home=0) is None


def test_confirming_a_signature_that_needed_none_changes_nothing() -> None:
    assert confirm(Winner("SY", 2, 1, 0), home=0) is None


def test_a_confirmation_before_its_signature_leaves_a_placeholder() -> None:
    assert confirm(None, home=3) == Winner.placeholder(3, confirmed=True)


def test_a_signature_after_its_confirmation_is_accepted_as_confirmed() -> None:
    arrived = Winner("SY", 2, 1, 3, status=PENDING)
    assert decide(arrived, Winner.placeholder(3, confirmed=True)) == (
        Outcome.ACCEPTED,
        Winner("SY", 2, 1, 3, status=CONFIRMED, changes=1),
    )


# -- partial counts -----------------------------------------------------------------


def new(partial: PartialCounts, petition: str, winner: Winner) -> None:
    partial.apply(petition, None, winner)


def test_partial_counts_count_each_new_winner_once() -> None:
    partial = PartialCounts()
    new(partial, "p", Winner("SY", 0, 1, 1))
    new(partial, "p", Winner("SY", 0, 2, 1))
    new(partial, "p", Winner("FR", 0, 3, 1))
    new(partial, "q", Winner("FR", 0, 4, 4))
    changed = {key: (r.counted, r.pending, r.version) for key, r in partial.take_changed()}
    assert changed == {("p", 1): ({"SY": 2, "FR": 1}, {}, 3), ("q", 4): ({"FR": 1}, {}, 1)}
    assert partial.take_changed() == []  # nothing moved since


def test_only_the_petition_partitions_that_moved_are_published_again() -> None:
    partial = PartialCounts()
    new(partial, "p", Winner("SY", 0, 1, 1))
    new(partial, "q", Winner("FR", 0, 2, 4))
    partial.take_changed()
    new(partial, "p", Winner("FR", 0, 3, 1))
    assert [key for key, _ in partial.take_changed()] == [("p", 1)]


def test_a_pending_signature_is_pending_until_confirmed_and_each_step_is_a_version() -> None:
    partial = PartialCounts()
    pending = Winner("SY", 0, 1, 2, status=PENDING)
    new(partial, "p", pending)
    [(_, report)] = partial.take_changed()
    assert (report.counted, report.pending, report.version) == ({}, {"SY": 1}, 1)
    partial.apply("p", pending, confirm(pending, home=2) or pending)
    [(_, report)] = partial.take_changed()
    assert (report.counted, report.pending, report.version) == ({"SY": 1}, {"SY": 0}, 2)


def test_partial_counts_rebuilt_from_entries_equal_the_live_ones() -> None:
    pending = Winner("SY", 0, 2, 4, status=PENDING)
    entries = [
        (DedupeKey("p", HASH_A), Winner("SY", 0, 1, 1)),
        (DedupeKey("p", HASH_B), pending),
        (DedupeKey("q", HASH_A), Winner("FR", 1, 3, 1)),
    ]
    live = PartialCounts()
    for key, winner in entries:
        new(live, key.petition_id, winner)
    live.apply("p", pending, confirm(pending, home=4) or pending)
    stored = [(key.table_key(), winner.encode()) for key, winner in entries[::2]]
    stored.append((DedupeKey("p", HASH_B).table_key(), confirm(pending, home=4).encode()))  # type: ignore[union-attr]
    rebuilt = PartialCounts.rebuild(stored)
    # Counted on each winner's home partition (1, 4, 1), not where it was submitted.
    assert rebuilt.counted == {("p", 1): {"SY": 1}, ("p", 4): {"SY": 1}, ("q", 1): {"FR": 1}}
    assert rebuilt.versions == live.versions == {("p", 1): 1, ("p", 4): 2, ("q", 1): 1}
    assert rebuilt.total() == live.total() == 3
    assert len(rebuilt.take_changed()) == 3  # a new owner publishes everything again


# -- the aggregate's fold -----------------------------------------------------------


def test_the_fold_sums_each_partitions_newest_report() -> None:
    partials, moved, _ = fold(None, 0, {"SY": 5}, {}, 5)
    assert moved == ["SY"]
    partials, moved, _ = fold(partials, 3, {"SY": 2, "FR": 1}, {"FR": 4}, 7)
    assert moved == ["FR", "SY"]
    now = datetime(2026, 5, 2, tzinfo=UTC)
    assert regional_count("p", "SY", partials, now)["signatures"] == 7
    assert regional_count("p", "FR", partials, now)["pending"] == 4


def test_a_stale_report_moves_nothing_and_publishes_nothing() -> None:
    partials, _, _ = fold(None, 0, {"SY": 5}, {"SY": 2}, 7)
    assert fold(partials, 0, {"SY": 4}, {"SY": 3}, 6) == (partials, [], False)  # older


def test_a_report_delivered_again_publishes_its_totals_again_and_changes_nothing() -> None:
    # After a crash the table may have the report while counts.regional does not.
    partials, _, _ = fold(None, 0, {"SY": 5}, {"FR": 2}, 7)
    assert fold(partials, 0, {"SY": 5}, {"FR": 2}, 7) == (partials, ["FR", "SY"], False)


def test_a_newer_report_that_moves_no_number_is_kept_all_the_same() -> None:
    # v8 -> invalidated (v9) -> reinstated (v10): the numbers of v10 are those of v8,
    # but v10 must be kept, or a restored v9 would be let in and set a count back.
    partials, _, _ = fold(None, 0, {"SY": 5}, {}, 8)
    partials, moved, newer = fold(partials, 0, {"SY": 5}, {}, 10)
    assert (moved, newer, partials["versions"]) == ([], True, {"0": 10})
    assert fold(partials, 0, {"SY": 4}, {}, 9)[1:] == ([], False)


def test_a_newer_report_may_lower_a_number() -> None:
    partials, _, _ = fold(None, 0, {"SY": 5}, {"SY": 2}, 7)
    partials, moved, _ = fold(partials, 0, {"SY": 6}, {"SY": 1}, 8)
    count = regional_count("p", "SY", partials, datetime(2026, 5, 2, tzinfo=UTC))
    assert (moved, count["signatures"], count["pending"]) == (["SY"], 6, 1)


def test_a_country_a_partition_no_longer_reports_has_none_there() -> None:
    partials, _, _ = fold(None, 0, {}, {"SY": 1}, 1)
    partials, moved, _ = fold(partials, 0, {"SY": 1}, {}, 2)
    count = regional_count("p", "SY", partials, datetime(2026, 5, 2, tzinfo=UTC))
    assert (moved, count["signatures"], count["pending"]) == (["SY"], 1, 0)


def test_the_fold_leaves_its_input_alone() -> None:
    partials, _, _ = fold(None, 0, {"SY": 5}, {}, 5)
    before = repr(partials)
    fold(partials, 0, {"SY": 9}, {}, 9)
    assert repr(partials) == before


def test_a_regional_count_carries_the_region_the_sums_and_the_version() -> None:
    now = datetime(2026, 5, 2, tzinfo=UTC)
    partials, _, _ = fold(None, 0, {"SY": 5}, {"SY": 1}, 6)
    partials, _, _ = fold(partials, 3, {"SY": 2}, {}, 2)
    assert regional_count("p", "SY", partials, now) == {
        "petition_id": "p",
        "region": "Middle East and North Africa",
        "country": "SY",
        "signatures": 7,
        "pending": 1,
        "version": 8,
        "updated_at": now,
        "cut": None,  # the reports did not say what they cover
    }


def test_a_regional_count_carries_the_cut_of_every_partition_that_reported() -> None:
    cut_0 = HomeCut({0: (41, 1)}, 3, 0).as_record(0)
    cut_3 = HomeCut({0: (7, 1), 3: (12, 1)}, 0, 2).as_record(3)
    partials, _, _ = fold(None, 3, {"SY": 2}, {}, 2, cut=cut_3)
    partials, _, _ = fold(partials, 0, {"SY": 5}, {}, 6, cut=cut_0)
    count = regional_count("p", "SY", partials, datetime(2026, 5, 2, tzinfo=UTC))
    assert count["cut"] == [cut_0, cut_3]


def test_one_partition_without_a_cut_makes_the_whole_cut_unknown() -> None:
    partials, _, _ = fold(None, 3, {"SY": 2}, {}, 2, cut=HomeCut({3: (1, 1)}).as_record(3))
    partials, _, _ = fold(partials, 0, {"SY": 5}, {}, 6, cut=None)
    assert regional_count("p", "SY", partials, datetime(2026, 5, 2, tzinfo=UTC))["cut"] is None


def test_a_stale_report_does_not_replace_the_kept_cut() -> None:
    newer = HomeCut({0: (9, 1)}).as_record(0)
    partials, _, _ = fold(None, 0, {"SY": 5}, {}, 6, cut=newer)
    partials, _, _ = fold(partials, 0, {"SY": 4}, {}, 5, cut=HomeCut({0: (8, 1)}).as_record(0))
    assert partials["cuts"]["0"] == newer


# -- the cut: what a home partition's numbers cover ------------------------------------


def test_the_cut_is_just_after_each_source_partitions_last_winner() -> None:
    partial = PartialCounts()
    new(partial, "p", Winner("SY", 2, 10, home=1, index=3))
    new(partial, "q", Winner("FR", 2, 4, home=1))
    new(partial, "p", Winner("FR", 5, 7, home=1))
    [(_, report), _] = partial.take_changed()
    assert report.cut == HomeCut({2: (10, 4), 5: (7, 1)}, confirmations=0, moderations=0)


def test_the_cut_is_of_the_whole_home_partition_not_of_one_petition() -> None:
    partial = PartialCounts()
    new(partial, "p", Winner("SY", 2, 10, home=1))
    partial.take_changed()
    new(partial, "q", Winner("SY", 2, 11, home=1))
    new(partial, "p", Winner("SY", 2, 12, home=0))
    reports = dict(partial.take_changed())
    assert reports[("q", 1)].cut.submitted == {2: (11, 1)}
    assert reports[("p", 0)].cut.submitted == {2: (12, 1)}


def test_a_confirmation_that_changes_an_entry_moves_the_confirmations_cut() -> None:
    partial = PartialCounts()
    pending = Winner("SY", 2, 10, home=1, status=Status.PENDING)
    partial.apply("p", None, pending)
    confirmed = confirm(pending, home=1, at=33)
    assert confirmed is not None
    partial.apply("p", pending, confirmed)
    [(_, report)] = partial.take_changed()
    assert (report.cut.confirmations, report.cut.moderations) == (34, 0)


def test_a_moderation_that_changes_an_entry_moves_the_moderations_cut() -> None:
    partial = PartialCounts()
    winner = Winner("SY", 2, 10, home=1)
    partial.apply("p", None, winner)
    invalidated = moderate(winner, home=1, invalidate=True, at=5)
    assert invalidated is not None
    partial.apply("p", winner, invalidated)
    [(_, report)] = partial.take_changed()
    assert report.cut.moderations == 6


def test_a_rebuilt_cut_equals_the_one_kept_as_entries_were_written() -> None:
    live = PartialCounts()
    entries = [
        ("p", Winner("SY", 2, 10, home=1, index=2)),
        ("p", Winner("", -1, -1, home=1, status=Status.CONFIRMED, confirmed_at=8)),
        ("q", Winner("FR", 4, 3, home=1, invalidated=True, changes=1, moderated_at=2)),
    ]
    for petition, entry in entries:
        live.apply(petition, None, entry)
    stored = [
        (DedupeKey(p, f"{i:064x}").table_key(), e.encode()) for i, (p, e) in enumerate(entries)
    ]
    rebuilt = PartialCounts.rebuild(stored)
    assert rebuilt.cuts[1].snapshot() == live.cuts[1].snapshot()
    assert rebuilt.cuts[1].snapshot() == HomeCut({2: (10, 3), 4: (3, 1)}, 9, 3)


def test_a_signature_taking_over_a_confirmed_placeholder_keeps_its_confirmation_offset() -> None:
    placeholder = confirm(None, home=1, at=8)
    assert placeholder is not None
    _, entry = decide(Winner("SY", 2, 10, home=1, status=Status.PENDING), placeholder)
    assert (entry.confirmed_at, entry.status) == (8, Status.CONFIRMED)


def test_an_entry_with_its_change_offsets_reads_back_the_same() -> None:
    entry = Winner("SY", 2, 10, 1, 3, Status.CONFIRMED, 2, True, 17, 4)
    assert Winner.decode(entry.encode()) == entry
    assert entry.encode() == b"SY 2 10 1 3 c 2 x c17 m4"


# -- moderation ---------------------------------------------------------------------


def test_invalidating_a_counted_winner_takes_it_out_and_is_a_change() -> None:
    out = moderate(Winner("SY", 2, 1, 0), home=0, invalidate=True)
    assert out == Winner("SY", 2, 1, 0, changes=1, invalidated=True)
    assert not out.counted and not out.pending


def test_invalidating_twice_changes_nothing() -> None:
    assert moderate(Winner("SY", 2, 1, 0, changes=1, invalidated=True), 0, invalidate=True) is None


def test_reinstating_puts_it_back_and_is_a_change() -> None:
    back = moderate(Winner("SY", 2, 1, 0, changes=1, invalidated=True), 0, invalidate=False)
    assert back == Winner("SY", 2, 1, 0, changes=2) and back.counted


def test_an_invalidated_pending_signature_is_neither_counted_nor_pending() -> None:
    out = moderate(Winner("SY", 2, 1, 0, status=PENDING), home=0, invalidate=True)
    assert out is not None and not out.counted and not out.pending


def test_an_invalidation_read_before_its_signature_is_taken_over_by_it() -> None:
    placeholder = moderate(None, home=3, invalidate=True)
    assert placeholder == Winner.placeholder(3, confirmed=False, invalidated=True)
    outcome, entry = decide(Winner("SY", 2, 1, 3), placeholder)
    assert outcome is Outcome.ACCEPTED and entry.invalidated and not entry.counted


def test_an_invalidated_entry_survives_the_encoding() -> None:
    entry = Winner("SY", 2, 1, 0, status=CONFIRMED, changes=2, invalidated=True)
    assert entry.encode() == b"SY 2 1 0 0 c 2 x"
    assert Winner.decode(entry.encode()) == entry


def test_moderations_in_any_order_with_the_signature_give_the_same_version() -> None:
    in_order, out_of_order = PartialCounts(), PartialCounts()
    signed = Winner("SY", 2, 1, 3)
    new(in_order, "p", signed)
    invalidated = moderate(signed, 3, invalidate=True)
    assert invalidated is not None
    in_order.apply("p", signed, invalidated)
    placeholder = moderate(None, 3, invalidate=True)
    assert placeholder is not None
    new(out_of_order, "p", placeholder)
    _, entry = decide(signed, placeholder)
    out_of_order.apply("p", placeholder, entry)
    assert in_order.versions == out_of_order.versions == {("p", 3): 2}
    assert in_order.total() == out_of_order.total() == 0


# -- the totals due for publication ---------------------------------------------------


def test_a_total_moved_by_several_reports_is_published_once_with_the_newest_numbers() -> None:
    due = DueCounts()
    now = datetime(2026, 5, 2, tzinfo=UTC)
    partials, moved, _ = fold(None, 0, {"SY": 5}, {}, 5)
    due.mark("p", partials, moved)
    partials, moved, _ = fold(partials, 3, {"SY": 2, "FR": 1}, {}, 7)
    due.mark("p", partials, moved)
    assert [(c["country"], c["signatures"], c["version"]) for c in due.take(now)] == [
        ("FR", 1, 12),
        ("SY", 7, 12),
    ]


def test_nothing_is_due_once_taken() -> None:
    due = DueCounts()
    due.mark("p", fold(None, 0, {"SY": 5}, {}, 5)[0], ["SY"])
    due.take(datetime(2026, 5, 2, tzinfo=UTC))
    assert (len(due), due.take(datetime(2026, 5, 2, tzinfo=UTC))) == (0, [])


def test_a_report_that_moved_nothing_makes_nothing_due() -> None:
    due = DueCounts()
    due.mark("p", fold(None, 0, {"SY": 5}, {}, 5)[0], [])
    assert len(due) == 0


def test_each_petition_publishes_from_its_own_fold() -> None:
    due = DueCounts()
    due.mark("p", fold(None, 0, {"SY": 5}, {}, 5)[0], ["SY"])
    due.mark("q", fold(None, 1, {"SY": 2}, {}, 9)[0], ["SY"])
    taken = due.take(datetime(2026, 5, 2, tzinfo=UTC))
    assert [(c["petition_id"], c["signatures"], c["version"]) for c in taken] == [
        ("p", 5, 5),
        ("q", 2, 9),
    ]
