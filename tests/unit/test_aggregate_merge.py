"""A restore merges each changelog value of the aggregate's table into the stored one
(``rules.aggregate.merge``): per dedupe partition the report with the larger version,
so records restored in any order, a late one after newer ones, give the same table."""

from __future__ import annotations

import itertools
import random
from typing import Any

from streams.rules.aggregate import fold, merge


def state(*reports: tuple[int, dict[str, int], int]) -> dict[str, Any]:
    """The partials after folding ``(partition, counted per country, version)``."""
    partials: dict[str, Any] | None = None
    for partition, counted, version in reports:
        partials = fold(partials, partition, counted, {}, version)[0]
    assert partials is not None
    return partials


def test_an_older_report_restored_after_a_newer_one_changes_nothing() -> None:
    newer = state((0, {"FR": 5}, 7), (1, {"DE": 2}, 3))
    older = state((0, {"FR": 3}, 4), (1, {"DE": 2}, 3))
    assert merge(newer, older) == newer


def test_a_newer_report_replaces_its_partitions_numbers_only() -> None:
    stored = state((0, {"FR": 3}, 4), (1, {"DE": 2}, 3))
    restored = state((0, {"FR": 5, "IT": 1}, 7))
    assert merge(stored, restored) == state((0, {"FR": 5, "IT": 1}, 7), (1, {"DE": 2}, 3))


def test_a_country_a_newer_report_no_longer_has_is_gone_from_that_partition() -> None:
    stored = state((0, {"FR": 3, "IT": 1}, 4))
    restored = state((0, {"FR": 4}, 6))
    assert merge(stored, restored)["counted"]["IT"] == {"0": 0}


def test_any_order_of_restored_states_gives_the_newest_per_partition() -> None:
    rng = random.Random(5)
    history = [  # each a state a worker wrote: some partitions, each at some version
        state(*[(p, {"FR": v, "JP": v // 2}, v) for p in rng.sample(range(4), 2)])
        for v in range(1, 9)
    ]
    newest = {}
    for partials in history:
        for part, version in partials["versions"].items():
            if version >= newest.get(part, (0, None))[0]:
                newest[part] = (version, partials)
    expected = state(
        *[
            (int(part), {c: n[part] for c, n in partials["counted"].items()}, version)
            for part, (version, partials) in newest.items()
        ]
    )
    for order in itertools.islice(itertools.permutations(history), 0, 5000, 97):
        restored = order[0]
        for partials in order[1:]:
            restored = merge(restored, partials)
        assert restored == expected
