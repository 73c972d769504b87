"""A regression gate on speed, as a ratio measured in one run on one broker (never a
time): the pipeline end to end against a bare passthrough of the same records.

The floor sits well below what bench/pipeline.py measures on the 2-core dev machine
(docs/benchmarks.md), so a loaded CI runner passes, but a change that brings back
the old per-signature hops (ratio 0.018) fails.
"""

from __future__ import annotations

from pathlib import Path

from bench.pipeline import end_to_end, passthrough
from streams.core.settings import Settings
from streams.testing.dataset import dataset_with_truth
from streams.testing.processes import free_port, prepare, produce

EVENTS = 20_000
RATIO_FLOOR = 0.003


def test_the_pipeline_keeps_its_speed_relative_to_a_passthrough(
    settings: Settings, tmp_path: Path
) -> None:
    events, petitions, truth = dataset_with_truth(5, EVENTS, settings)
    ceiling = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}ceiling."})
    prepare(ceiling, petitions)
    produce(ceiling, events)
    copy_s = passthrough(ceiling, len(events))

    run = end_to_end(settings, events, petitions, truth, tmp_path / "worker.log", free_port())

    assert run["counts_exact"]
    ratio = run["events_per_s"] / (len(events) / copy_s)
    assert ratio > RATIO_FLOOR, f"e2e / passthrough = {ratio:.3f} (floor {RATIO_FLOOR})"
