"""The demo feed of ``make run`` brings new signers every time it starts: a second run
on the same data directory must move the count again, not resend the first run's
people (who would all be duplicates)."""

from __future__ import annotations

import time
from pathlib import Path

from schemas.codec import codec
from streams.core.errors import MalformedMessage
from streams.core.logscan import scan, whole_log
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.core.topicspecs import SUBMITTED
from streams.testing.processes import Results, WorkerProcess, run_command

EVENTS = 300


def settled_total(results: Results, events: int, worker: WorkerProcess) -> int:
    """The signatures counted once every one of ``events`` submissions has a verdict
    and the counts agree with the accepted signatures."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert worker.alive(), worker.log_tail()
        results.poll(1.0)
        handled = sum(len(items) for items in results.handled.values())
        total = sum(results.counts().values())
        if handled == events and total == len(results.accepted_keys):
            return total
    raise AssertionError(f"the demo events were not all handled:\n{worker.log_tail()}")


def test_a_second_demo_run_brings_new_signers(
    settings: Settings, worker: WorkerProcess, results: Results, tmp_path: Path
) -> None:
    demo = ["simulate", "--count", str(EVENTS), "--rate", "0"]
    worker.start()
    run_command(settings, demo, tmp_path / "simulate-1.log")
    first = settled_total(results, EVENTS, worker)
    worker.stop()

    worker.start()  # the same data directory: the dedupe ledger remembers run one
    run_command(settings, demo, tmp_path / "simulate-2.log")
    second = settled_total(results, 2 * EVENTS, worker)

    assert first > EVENTS // 2  # most demo events are meant to be signatures
    assert second - first > EVENTS // 2  # and the second run's signers are new people


def test_with_sealing_on_the_demo_feed_seals_every_readable_submission(
    settings: Settings, tmp_path: Path
) -> None:
    create_topics(settings)
    # A seed of its own (its 200 events hold 9 undecodable ones): malformed events are
    # a few percent of the mix, and a fresh clone's run once drew 200 with none.
    demo = ["simulate", "--count", "200", "--rate", "0", "--seed", "25"]
    run_command(
        settings, demo, tmp_path / "simulate.log", env={"COUNTERSIGN_SEAL_PERSONAL_DATA": "true"}
    )
    readable, hostile = [], 0
    for record in scan(settings, whole_log(settings, SUBMITTED.name)):
        try:
            readable.append(codec("SignatureSubmitted").decode(record.value))
        except MalformedMessage:
            hostile += 1
    assert len(readable) + hostile == 200
    assert hostile > 0  # the demo's undecodable bytes still go out, as they were
    clear = [r["signature_id"] for r in readable if r["sealed"] is None or r["email"]]
    assert clear == []
