"""``countersign replay`` re-counts the log in a namespace of its own and matches the
live counts, while the live pipeline goes on counting; the live pipeline is only
read, and a namespace is used once."""

from __future__ import annotations

import json
import time
from pathlib import Path

from streams.core.settings import Settings
from streams.testing.processes import ChildProcess, WorkerProcess


def test_a_replay_agrees_with_the_live_counts_while_the_demo_feed_signs(
    settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    """The live pipeline counts on while the replay runs: its numbers are taken as of
    the replay's end (each carries its cut; the log in between is recounted). The demo
    feed sends every kind of bad input too, so rejections are compared as well."""
    worker.start()
    worker.wait_until_serving()
    with ChildProcess(settings, tmp_path / "simulate.log") as feed:
        feed.spawn(["simulate", "--count", "6000", "--rate", "50"], worker.environment())
        time.sleep(15)
        done = worker.run(
            ["replay", "--from", "0", "--into", "live1", "--format", "json"],
            tmp_path / "replay.log",
            expect=None,
        )
        assert feed.alive(), "the feed ended before the replay did: not a live replay"
    report = json.loads(done.stdout)
    assert done.returncode == 0, done.stdout
    assert report["namespace"] == f"{settings.topic_prefix}replay.live1."
    petitions = report["petitions"]
    assert all(p["agrees"] for p in petitions)
    assert sum(p["replay"]["total"] for p in petitions) > 0
    assert sum(sum(p["replay"]["rejected"].values()) for p in petitions) > 0
    # The live pipeline had counted past the replay's end when it was read.
    assert sum(p["live_as_shown"]["total"] for p in petitions) > sum(
        p["live"]["total"] for p in petitions
    )

    again = worker.run(
        ["replay", "--from", "0", "--into", "live1"], tmp_path / "again.log", expect=2
    )
    assert "holds a replay already" in again.stderr
