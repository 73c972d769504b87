"""Datasets with known truth: the product's simulator, judged by streams/testing/reference.py."""

from __future__ import annotations

from streams.core.settings import Settings
from streams.demo.simulator import DemoPetition, Event, intent_counts, make_dataset
from streams.testing.reference import Truth, expected

__all__ = ["DemoPetition", "Event", "dataset_with_truth", "intent_counts", "make_dataset"]


def dataset_with_truth(
    seed: int, count: int, settings: Settings, *, hot_petition: bool = False
) -> tuple[list[Event], list[DemoPetition], Truth]:
    """A dataset and what the reference implementation says its counts must be."""
    events, petitions, now = make_dataset(seed, count, hot_petition=hot_petition)
    windows = {p.petition_id: (p.opens_at, p.closes_at) for p in petitions}
    hash_key = settings.hash_key
    truth = expected([(e.key, e.value) for e in events], windows, now, hash_key)
    return events, petitions, truth
