"""``countersign rebuild`` while the demo feed is sending: afterwards every number
still agrees with the log (nothing lost, nothing counted twice)."""

from __future__ import annotations

import time
from pathlib import Path

from streams.core.settings import Settings
from streams.testing.processes import ChildProcess, WorkerProcess

EVENTS, RATE = 4_000, 200  # 20 s of traffic


def test_a_rebuild_under_live_traffic_loses_and_doubles_nothing(
    settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    worker.start()
    worker.wait_until_serving()
    with ChildProcess(settings, tmp_path / "simulate.log") as feed:
        feed.spawn(["simulate", "--count", str(EVENTS), "--rate", str(RATE)], worker.environment())
        time.sleep(5)
        worker.run(["rebuild"], tmp_path / "rebuild.log")
        assert feed.alive(), "the feed ended before the rebuild did: not a live rebuild"
        assert feed.process is not None
        assert feed.process.wait(120) == 0, feed.log_tail()
    done = worker.run(["reconcile", "--settle", "120"], tmp_path / "reconcile.log")
    assert "every number agrees with the log" in done.stdout
    assert f"{EVENTS:,} events" in done.stdout
