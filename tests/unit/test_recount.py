"""The batch recount behind ``countersign reconcile`` agrees with the tests' own
reference implementation, whatever order the partitions are read in."""

from __future__ import annotations

import random
from collections import Counter

from schemas.batch import encode_batch
from schemas.codec import codec
from streams.audit.recount import Recount
from streams.core.logscan import LogRecord
from streams.rules.petitions import PetitionWindow
from streams.rules.placement import home_partition
from streams.testing.dataset import make_dataset
from streams.testing.reference import Truth, expected

HASH_KEY = b"recount-test-key"
PARTITIONS = 6


def logged(seed: int, count: int) -> tuple[list[LogRecord], dict[str, PetitionWindow], Truth]:
    """A dataset as Kafka would hold it: each event on its key's partition, in order,
    logged at the dataset's ``now``."""
    events, petitions, now = make_dataset(seed, count)
    offsets: Counter[int] = Counter()
    records = []
    for event in events:
        partition = home_partition(event.key, PARTITIONS)
        records.append(
            LogRecord(partition, offsets[partition], now.timestamp(), event.key, event.value)
        )
        offsets[partition] += 1
    windows = {
        p.petition_id: PetitionWindow(p.petition_id, p.opens_at, p.closes_at) for p in petitions
    }
    truth = expected(
        [(e.key, e.value) for e in events],
        {p.petition_id: (p.opens_at, p.closes_at) for p in petitions},
        now,
        HASH_KEY,
    )
    return records, windows, truth


def test_the_recount_equals_the_reference() -> None:
    records, windows, truth = logged(3, 4_000)
    recount = Recount.of(records, windows, HASH_KEY, "signatures.submitted")
    assert recount.counts() == truth.counts
    assert recount.rejected == truth.reasons
    assert recount.events == len(records)


def test_partitions_recounted_apart_and_merged_give_the_same_numbers() -> None:
    records, windows, _ = logged(4, 3_000)
    whole = Recount.of(records, windows, HASH_KEY, "t")
    parts = [
        Recount.of([r for r in records if r.partition % 2 == side], windows, HASH_KEY, "t")
        for side in (1, 0)
    ]
    parts[0].merge(parts[1])
    assert parts[0].counts() == whole.counts()
    assert parts[0].rejected == whole.rejected


def test_interleaving_the_partitions_changes_nothing() -> None:
    records, windows, _ = logged(5, 3_000)
    shuffled = sorted(records, key=lambda r: (random.Random(r.partition).random(), r.offset))
    first = Recount.of(records, windows, HASH_KEY, "t")
    again = Recount.of(shuffled, windows, HASH_KEY, "t")
    assert again.counts() == first.counts() and again.rejected == first.rejected


def test_a_batch_record_counts_each_submission_it_carries() -> None:
    records, windows, truth = logged(6, 500)
    by_partition: dict[int, list[LogRecord]] = {}
    for record in records:
        by_partition.setdefault(record.partition, []).append(record)
    batched = [
        LogRecord(p, 0, rs[0].timestamp, None, encode_batch([(r.key, r.value) for r in rs]))
        for p, rs in by_partition.items()
    ]
    recount = Recount.of(batched, windows, HASH_KEY, "t")
    assert recount.counts() == truth.counts
    assert recount.events == len(records)


def test_the_same_signer_in_two_partitions_is_counted_once_and_marked_contested() -> None:
    records, windows, _ = logged(7, 200)
    first = Recount.of(records, windows, HASH_KEY, "t")
    winner = next(r for r in records if Recount.of([r], windows, HASH_KEY, "t").winners)
    elsewhere = LogRecord(
        (winner.partition + 1) % PARTITIONS, 10_000, winner.timestamp, winner.key, winner.value
    )
    again = Recount.of([*records, elsewhere], windows, HASH_KEY, "t")
    assert again.counts() == first.counts()
    assert sum(again.rejected.values()) == sum(first.rejected.values()) + 1
    assert len(again.contested) == 1


def test_a_contested_signer_with_two_countries_gives_both_rows_leeway() -> None:
    records, windows, _ = logged(8, 200)
    decoder = codec("SignatureSubmitted")
    winner = next(r for r in records if Recount.of([r], windows, HASH_KEY, "t").winners)
    moved = decoder.decode(winner.value or b"") | {"country": "NZ"}
    elsewhere = LogRecord(
        (winner.partition + 1) % PARTITIONS,
        10_000,
        winner.timestamp,
        winner.key,
        decoder.encode(moved),
    )
    recount = Recount.of([*records, elsewhere], windows, HASH_KEY, "t")
    (first,) = Recount.of([winner], windows, HASH_KEY, "t").winners.values()
    own = (first[4], first[5], first[6])
    assert recount.leeway() == Counter({own: 1, (own[0], "Asia and the Pacific", "NZ"): 1})
