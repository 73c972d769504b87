"""The pipeline's counts equal an independently computed truth, crash or no crash."""

from __future__ import annotations

import time

import pytest

from streams.rules.reasons import Reason
from streams.settings import Settings
from tests.dataset import dataset_with_truth, intent_counts
from tests.pipeline import Results, WorkerProcess, prepare, produce

EVENTS = 50_000


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


@pytest.mark.timeout(900)
def test_counts_equal_the_truth_after_two_sigkills(
    settings: Settings, worker: WorkerProcess, results: Results
) -> None:
    events, petitions, truth = dataset_with_truth(12, EVENTS, settings)
    prepare(settings, petitions)
    worker.start()
    produce(settings, events)
    counted_at_kill = []
    for _ in range(2):
        # Let it get well into the stream, then pull the plug.
        before = sum(results.counts().values())
        while sum(results.counts().values()) < before + 5_000 and not results.matches(truth):
            results.poll(1.0)
        counted_at_kill.append(sum(results.counts().values()))
        worker.kill()
        time.sleep(1)
        worker.start()
    results.wait_for(truth, timeout=600, worker=worker)
    # Both kills hit mid-stream, with work still to do.
    assert counted_at_kill[-1] < truth.total_accepted(), counted_at_kill
    assert results.reasons == truth.reasons
    assert results.counts() == truth.counts
