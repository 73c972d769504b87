"""The recount at a cut: what a count that covered only so much of the log must show.
Each expectation is worked out by hand from the few records of each test."""

from __future__ import annotations

import json
from datetime import timedelta

from schemas.codec import codec
from streams.audit.as_of import coverage, live_as_of
from streams.audit.recount import Recount, first_confirmation_offsets, moderation_histories
from streams.core.logscan import LogRange, LogRecord
from streams.rules.cut import Cut, HomeCut
from streams.rules.keys import submission_key_for
from streams.rules.petitions import Confirmation, PetitionWindow
from streams.rules.placement import home_partition
from tests.unit.test_recount_confirmation import HASH_KEY, T0, confirmed, key_of, signed

PARTITIONS = 1  # every signer's home is partition 0, as every record's
OPEN = {"p": PetitionWindow("p", T0 - timedelta(days=1), None, Confirmation.NONE)}
ASKS = {"p": PetitionWindow("p", T0 - timedelta(days=1), None, Confirmation.EMAIL)}


def recount(
    records: list[LogRecord], windows: dict[str, PetitionWindow], **signers: object
) -> Recount:
    result = Recount(windows, HASH_KEY, "signatures.submitted", partitions=PARTITIONS, **signers)  # type: ignore[arg-type]
    for record in records:
        result.add(record)
    return result


def cut(submitted_to: int, confirmations: int = 0, moderations: int = 0) -> Cut:
    """Home 0 covers partition 0's submissions before offset ``submitted_to``."""
    return Cut({0: HomeCut({0: (submitted_to, 0)}, confirmations, moderations)})


def moderated(email: str, offset: int, action: str) -> LogRecord:
    key = key_of(email)
    value = codec("SignatureModerated").encode(
        {
            "petition_id": "p",
            "email_hash": key.email_hash,
            "signature_id": "s",
            "action": action,
            "batch_id": "b",
            "reason": "test",
            "actor": "ops",
            "at": T0,
        }
    )
    return LogRecord(0, offset, T0.timestamp(), key.encode(), value)


def test_a_cut_counts_only_the_submissions_before_it() -> None:
    log = recount([signed(0, "a@x.org", 0), signed(1, "b@x.org", 1), signed(2, "c@x.org", 2)], OPEN)
    assert log.row_at("p", "SY", cut(2)) == (2, 0)
    assert log.row_at("p", "SY", cut(0)) == (0, 0)
    assert log.row_at("p", "SY", cut(3)) == (3, 0)


def test_a_home_that_never_reported_counts_nothing() -> None:
    log = recount([signed(0, "a@x.org", 0)], OPEN)
    assert log.row_at("p", "SY", Cut({})) == (0, 0)


def test_a_confirmation_counts_only_when_the_cut_covers_it() -> None:
    confirmations = [confirmed("a@x.org", 5, offset=7)]
    log = recount(
        [signed(0, "a@x.org", 0)],
        ASKS,
        confirmation_offsets=first_confirmation_offsets(confirmations),
    )
    assert log.row_at("p", "SY", cut(1, confirmations=7)) == (0, 1)  # pending at the cut
    assert log.row_at("p", "SY", cut(1, confirmations=8)) == (1, 0)


def test_the_latest_moderation_before_the_cut_decides() -> None:
    moderations = [moderated("a@x.org", 3, "invalidate"), moderated("a@x.org", 9, "reinstate")]
    log = recount(
        [signed(0, "a@x.org", 0)],
        OPEN,
        moderation_history=moderation_histories(moderations),
    )
    assert log.row_at("p", "SY", cut(1, moderations=3)) == (1, 0)
    assert log.row_at("p", "SY", cut(1, moderations=4)) == (0, 0)  # invalidated then
    assert log.row_at("p", "SY", cut(1, moderations=10)) == (1, 0)  # reinstated since


def test_a_duplicate_is_covered_by_its_signers_home_and_position() -> None:
    log = recount([signed(0, "a@x.org", 0), signed(1, "a@x.org", 1)], OPEN)
    assert log.rejected_at(cut(1)) == {}
    assert log.rejected_at(cut(2)) == {("p", "duplicate"): 1}


def test_signature_rows_at_a_cut_count_invalidated_winners_too() -> None:
    log = recount(
        [signed(0, "a@x.org", 0), signed(1, "b@x.org", 1)],
        OPEN,
        moderation_history=moderation_histories([moderated("a@x.org", 0, "invalidate")]),
    )
    assert log.winners_at(cut(2, moderations=1)) == {("p", "Middle East and North Africa", "SY"): 2}
    assert log.row_at("p", "SY", cut(2, moderations=1)) == (1, 0)


def test_a_winners_home_is_the_partition_kafka_gives_its_submission_key() -> None:
    log = Recount(OPEN, HASH_KEY, "signatures.submitted", partitions=6)
    log.add(signed(0, "a@x.org", 0))
    [winner] = log.winners.values()
    assert winner[8] == home_partition(submission_key_for("p", "a@x.org"), 6)


def test_live_numbers_are_moved_back_to_the_replays_end_by_the_log_in_between() -> None:
    log = recount([signed(i, f"s{i}@x.org", i) for i in range(5)], OPEN)
    live = {
        "by_country": {"SY": 5},
        "pending": 0,
        "rejected": {"duplicate": 0},
        "cut": {"SY": json.loads(cut(5).to_json())},
    }
    moved = live_as_of(log, "p", live, cut(3), {"duplicate": 1})
    assert moved == {
        "total": 3,
        "by_country": {"SY": 3},
        "pending": 0,
        "rejected": {"duplicate": 1},
    }


def test_a_live_number_altered_by_hand_stays_off_by_as_much() -> None:
    log = recount([signed(i, f"s{i}@x.org", i) for i in range(5)], OPEN)
    live = {
        "by_country": {"SY": 12},
        "pending": 0,
        "rejected": {},
        "cut": {"SY": json.loads(cut(5).to_json())},
    }
    moved = live_as_of(log, "p", live, cut(3), {})
    assert moved is not None and moved["by_country"] == {"SY": 10}


def test_live_numbers_that_do_not_say_what_they_cover_cannot_be_moved() -> None:
    log = recount([signed(0, "a@x.org", 0)], OPEN)
    live = {"by_country": {"SY": 1}, "pending": 0, "rejected": {}, "cut": {"SY": None}}
    assert live_as_of(log, "p", live, cut(1), {}) is None


def test_a_replay_that_was_given_everything_covers_every_record() -> None:
    submitted = LogRange("s", {0: (0, 10), 1: (0, 4)})
    end = coverage(submitted, LogRange("c", {0: (0, 2)}), LogRange("m", {1: (0, 7)}), homes=2)
    assert end.home(0) == HomeCut({0: (10, 0), 1: (4, 0)}, 2, 0)
    assert end.home(1) == HomeCut({0: (10, 0), 1: (4, 0)}, 0, 7)
