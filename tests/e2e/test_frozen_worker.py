"""A worker frozen (SIGSTOP) past its session timeout while records wait in its
producer, then thawed: the dedupe changelog records it sends late land after those
of the worker that took its partitions meanwhile. When it gets partitions back, its
restore must still read the other's records, and every count stays exact (the chaos
test's shortfall, docs/scaling.md; docs/exactly-once.md)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.core.settings import Settings
from streams.testing.dataset import dataset_with_truth
from streams.testing.processes import (
    Results,
    WorkerProcess,
    prepare,
    produce,
    workers_of_one_pipeline,
)

pytestmark = [pytest.mark.slow, pytest.mark.kills]

#: Past the test settings' 10 s session timeout: the group gives its partitions away.
FROZEN_SECONDS = 15


@pytest.fixture
def workers(settings: Settings, tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    """Two workers, each with its state directory, whose producers hold records for a
    second before sending them (so one frozen mid-stream surely holds some)."""
    lingering = settings.model_copy(update={"producer_linger_seconds": 1.0})
    with workers_of_one_pipeline(lingering, tmp_path, 2) as processes:
        yield processes


@pytest.mark.timeout(600)
def test_counts_stay_exact_when_a_frozen_worker_thaws_with_records_in_its_producer(
    settings: Settings, workers: list[WorkerProcess], results: Results
) -> None:
    events, petitions, truth = dataset_with_truth(37, 12_000, settings)
    prepare(settings, petitions)
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.wait_until_serving()
    frozen, other = workers
    assert frozen.process is not None
    # A share before the freeze, a share the other worker handles alone, and the most
    # after the thaw: a restore that skipped records would leave its partitions'
    # partial counts short, and their versions would pass the other's.
    first, second = len(events) * 3 // 10, len(events) // 2
    produce(settings, events[:first])
    while sum(results.counts().values()) < truth.total_accepted() // 5:
        results.poll(0.5)
    produce(settings, events[first:second])
    time.sleep(0.3)  # both mid-stream
    os.kill(frozen.process.pid, signal.SIGSTOP)
    time.sleep(FROZEN_SECONDS)
    os.kill(frozen.process.pid, signal.SIGCONT)
    time.sleep(10)  # it rejoins the group and gets partitions back
    produce(settings, events[second:])
    results.wait_for(truth, timeout=300, worker=other)
    assert frozen.alive() and other.alive()
    if results.counts() != truth.counts:
        print(frozen.warnings(), other.warnings(), sep="\n--- the other ---\n")
    assert results.counts() == truth.counts
