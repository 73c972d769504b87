"""Records that carry several submissions (SignatureBatch) count exactly like single
ones, a kill in the middle of one included."""

from __future__ import annotations

import shutil
import time

import pytest

from streams.core.settings import Settings
from streams.testing.dataset import dataset_with_truth
from streams.testing.processes import Results, WorkerProcess, prepare, produce

pytestmark = pytest.mark.kills

PER_RECORD = 200


def test_batched_records_count_like_single_ones(
    settings: Settings, worker: WorkerProcess, results: Results
) -> None:
    events, petitions, truth = dataset_with_truth(21, 10_000, settings)
    prepare(settings, petitions)
    worker.start()
    records = produce(settings, events, per_record=50)
    results.wait_for(truth, timeout=300, worker=worker)
    assert len(records) < len(events) / 10  # batches were sent, not single records
    assert results.reasons == truth.reasons
    assert results.counts() == truth.counts
    assert results.redelivered == 0


@pytest.mark.timeout(900)
def test_counts_equal_the_truth_after_a_kill_in_the_middle_of_a_batch(
    settings: Settings, worker: WorkerProcess, results: Results
) -> None:
    """Validate acknowledges a record only after all of its events have left; a kill
    after some of them did must neither lose the rest nor count the first ones twice."""
    events, petitions, truth = dataset_with_truth(22, 30_000, settings)
    prepare(settings, petitions)
    # Batches take long enough to handle (200 x 2 ms / 16) that the kill lands in one.
    worker.extra_env = {"COUNTERSIGN_VALIDATE_BATCH_PAUSE_SECONDS": "0.002"}
    worker.start()
    records = produce(settings, events, per_record=PER_RECORD)
    # Kill a third of the way through (validate runs well ahead of the counts), as
    # soon as a batch is seen open. Whether it is still open when the kill lands is
    # timing: when it closed first, start again and kill again (every kill must be
    # exact anyway), so the scenario is met, not hoped for.
    kills = 0
    while kills < 5:
        third = results.handled_events() + (len(events) - results.handled_events()) // 3
        while results.handled_events() < third or not results.partly_handled(records):
            results.poll(0.02)
            if results.handled_events() == len(events):
                break
        worker.kill()
        kills += 1
        results.poll(3.0)  # whatever the dead worker got out is on the broker now
        if results.partly_handled(records):
            break
        time.sleep(1)
        worker.start()
    open_batches = results.partly_handled(records)
    handled = {p: len(results.handled.get(p, ())) for p in records}
    assert open_batches, (
        f"{kills} kills, none in the middle of a batch: "
        f"{sum(1 for p, n in handled.items() if n == records[p])} records fully handled, "
        f"{sum(1 for n in handled.values() if n == 0)} untouched, of {len(records)}"
    )
    counted_at_kill = sum(results.counts().values())
    time.sleep(1)
    worker.start()
    results.wait_for(truth, timeout=600, worker=worker)
    assert counted_at_kill < truth.total_accepted()
    assert not results.partly_handled(records)
    assert results.reasons == truth.reasons
    assert results.counts() == truth.counts


@pytest.mark.timeout(900)
def test_a_worker_that_lost_its_disk_after_a_kill_restores_every_winner_from_the_changelog(
    settings: Settings, worker: WorkerProcess, results: Results
) -> None:
    """The dedupe table's changelog holds one record per input record (``TableWrites``):
    a worker whose state directory is gone must restore every winner from those, or
    the signers who sign again after the kill would count twice."""
    events, petitions, truth = dataset_with_truth(23, 20_000, settings)
    prepare(settings, petitions)
    worker.start()
    produce(settings, events, per_record=50)
    while sum(results.counts().values()) < truth.total_accepted() // 2:
        results.poll(0.2)
    worker.kill()
    counted_at_kill = sum(results.counts().values())
    state = settings.data_dir / "faust"
    assert any(state.rglob("*dedupe-winners*")), "the kill left no table on disk to lose"
    shutil.rmtree(state)
    worker.start()
    results.wait_for(truth, timeout=600, worker=worker)
    assert counted_at_kill < truth.total_accepted()
    assert results.reasons == truth.reasons
    assert results.counts() == truth.counts
