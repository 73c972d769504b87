"""``countersign replay`` re-counts a range of the log in a namespace of its own and
matches the live counts; the live pipeline is only read."""

from __future__ import annotations

import json
import time
from pathlib import Path

from streams.core.settings import Settings
from streams.demo.campaign import SEED_PETITION
from streams.testing.processes import ChildProcess, WorkerProcess
from tests.intake_client import request

SIGNERS = 2_000


def live_total(worker: WorkerProcess) -> int:
    answer = request(
        f"http://127.0.0.1:{worker.web_port}/api/petitions/{SEED_PETITION}/counts", method="GET"
    )
    return int(answer.body["total"]) if answer.status == 200 else -1


def test_a_replay_of_the_seed_campaign_equals_the_live_counts(
    settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    worker.start()
    worker.wait_until_serving()
    campaign = ["simulate", "--profile", "seed-campaign", "--signatures", str(SIGNERS)]
    worker.run(campaign, tmp_path / "simulate.log")
    deadline = time.monotonic() + 300
    while live_total(worker) < SIGNERS and time.monotonic() < deadline:
        time.sleep(2)
    assert live_total(worker) == SIGNERS

    done = worker.run(
        ["replay", "--from", "0", "--into", "audit1", "--format", "json"], tmp_path / "replay.log"
    )
    report = json.loads(done.stdout)
    (seed,) = [p for p in report["petitions"] if p["petition"] == SEED_PETITION]
    assert seed["replay"]["total"] == SIGNERS
    assert seed["replay"]["by_country"] == seed["live"]["by_country"]
    assert seed["replay"]["rejected"] == seed["live"]["rejected"]
    assert report["namespace"] == f"{settings.topic_prefix}replay.audit1."
    assert live_total(worker) == SIGNERS  # the live counts did not move

    again = worker.run(
        ["replay", "--from", "0", "--into", "audit1"], tmp_path / "again.log", expect=2
    )
    assert "holds a replay already" in again.stderr


def test_a_replay_agrees_with_the_live_counts_while_the_demo_feed_signs(
    settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    """The live pipeline counts on while the replay runs: its numbers are taken as of
    the replay's end (each carries its cut; the log in between is recounted)."""
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
    petitions = report["petitions"]
    assert all(p["agrees"] for p in petitions)
    assert sum(p["replay"]["total"] for p in petitions) > 0
    # The live pipeline had counted past the replay's end when it was read.
    assert sum(p["live_as_shown"]["total"] for p in petitions) > sum(
        p["live"]["total"] for p in petitions
    )
