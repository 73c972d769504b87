"""The pipeline's counts equal an independently computed truth, crash or no crash."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from streams.core.settings import Settings
from streams.core.topicspecs import VALID
from streams.rules.reasons import Reason
from streams.testing.dataset import dataset_with_truth, intent_counts
from streams.testing.processes import (
    Results,
    WorkerProcess,
    prepare,
    produce,
    workers_of_one_pipeline,
)

pytestmark = pytest.mark.kills

EVENTS = 30_000


def test_the_generator_and_the_reference_agree(settings: Settings) -> None:
    events, _, truth = dataset_with_truth(7, 5_000, settings)
    intents = intent_counts(events)
    by_reason: dict[str, int] = {}
    for (_, reason), n in truth.reasons.items():
        by_reason[reason] = by_reason.get(reason, 0) + n
    assert truth.total_accepted() == intents.pop("accepted")
    assert by_reason == dict(intents)
    assert set(by_reason) == {reason.value for reason in Reason}  # every reason occurs


def test_counts_equal_the_truth(
    settings: Settings, worker: WorkerProcess, results: Results
) -> None:
    events, petitions, truth = dataset_with_truth(11, EVENTS, settings)
    prepare(settings, petitions)
    worker.start()
    produce(settings, events)
    results.wait_for(truth, timeout=600, worker=worker)
    assert results.reasons == truth.reasons
    assert results.counts() == truth.counts
    assert results.redelivered == 0  # without a crash nothing is delivered twice


def test_most_signatures_are_settled_where_they_are_read(
    settings: Settings, worker: WorkerProcess, results: Results
) -> None:
    """Only the plain-keyed signers (one in five) travel through signatures.valid."""
    events, petitions, truth = dataset_with_truth(13, 5_000, settings)
    prepare(settings, petitions)
    worker.start()
    produce(settings, events)
    results.wait_for(truth, timeout=300, worker=worker)
    valid_verdicts = truth.total_accepted() + sum(
        n for (_, reason), n in truth.reasons.items() if reason == Reason.DUPLICATE
    )
    sent_home = results.records_on(VALID.name)
    assert 0 < sent_home < valid_verdicts / 2


def test_two_workers_count_exactly_with_signatures_travelling_between_them(
    settings: Settings, tmp_path: Path, results: Results
) -> None:
    """Each holds half the homes: a plain-keyed signer read by one may be settled by the
    other, through signatures.valid, and every count is still exact."""
    events, petitions, truth = dataset_with_truth(13, 5_000, settings)
    prepare(settings, petitions)
    with workers_of_one_pipeline(settings, tmp_path, 2) as workers:
        for worker in workers:
            worker.start()
            worker.wait_until_ready()
        for worker in workers:  # the first one rebalanced when the second joined
            worker.wait_until_ready()
        produce(settings, events)
        results.wait_for(truth, timeout=300)
    assert results.counts() == truth.counts and results.reasons == truth.reasons
    valid_verdicts = truth.total_accepted() + sum(
        n for (_, reason), n in truth.reasons.items() if reason == Reason.DUPLICATE
    )
    assert 0 < results.records_on(VALID.name) < valid_verdicts / 2


@pytest.mark.timeout(900)
def test_counts_equal_the_truth_after_two_sigkills(
    settings: Settings, worker: WorkerProcess, results: Results
) -> None:
    events, petitions, truth = dataset_with_truth(12, EVENTS, settings)
    prepare(settings, petitions)
    worker.start()
    produce(settings, events)
    counted_at_kill = []
    for third in (1, 2):
        # Pull the plug at a third and at two thirds of the way: points fixed by the
        # truth, not by a step, so a faster pipeline still dies mid-stream.
        target = truth.total_accepted() * third // 3
        while sum(results.counts().values()) < target and not results.matches(truth):
            results.poll(0.5)
        counted_at_kill.append(sum(results.counts().values()))
        worker.kill()
        time.sleep(1)
        worker.start()
    results.wait_for(truth, timeout=600, worker=worker)
    # Both kills hit mid-stream, with work still to do.
    assert counted_at_kill[-1] < truth.total_accepted(), counted_at_kill
    assert results.reasons == truth.reasons
    assert results.counts() == truth.counts


@pytest.mark.timeout(900)
def test_counts_equal_the_truth_after_a_kill_while_partial_counts_are_unpublished(
    settings: Settings, worker: WorkerProcess, results: Results
) -> None:
    """The dedupe stage counts winners in memory between two publications of its
    partial counts: a kill in that window loses the batch, and the counts must come
    back from the winners table alone."""
    events, petitions, truth = dataset_with_truth(13, 20_000, settings)
    prepare(settings, petitions)
    worker.extra_env = {"COUNTERSIGN_PARTIALS_INTERVAL_SECONDS": "5"}
    worker.start()
    half = len(events) // 2
    produce(settings, events[:half])
    while sum(results.counts().values()) == 0:  # the first batch is out
        results.poll(0.2)
    # The second half only now, so that it is accepted inside the next 5 s batch however
    # fast the worker is (with all of it produced at once, a run finished before
    # the first batch went out). Kill once winners were accepted that no count shows.
    produce(settings, events[half:])
    deadline = time.monotonic() + 4.0
    counted, accepted = 0, 0
    while time.monotonic() < deadline:
        results.poll(0.2)
        counted, accepted = sum(results.counts().values()), len(results.accepted_keys)
        if accepted > counted + 100:
            break
    worker.kill()
    assert accepted > counted  # winners were accepted whose counts were not published
    worker.extra_env = {}
    worker.start()
    results.wait_for(truth, timeout=600, worker=worker)
    assert results.reasons == truth.reasons
    assert results.counts() == truth.counts
