"""``countersign trace`` follows one signature from the log to the counts."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from schemas.codec import codec
from streams.core.settings import Settings
from streams.testing.dataset import Event, dataset_with_truth
from streams.testing.processes import Results, WorkerProcess, prepare, produce


def first(events: list[Event], intent: str) -> dict[str, Any]:
    event = next(e for e in events if e.intent == intent)
    return codec("SignatureSubmitted").decode(event.value)


def trace(worker: WorkerProcess, log: Path, *args: str) -> dict[str, Any]:
    """The JSON answer of ``countersign trace``; the table goes to the test's output."""
    print(worker.run(["trace", *args], log).stdout)
    return json.loads(worker.run(["trace", *args, "--format", "json"], log).stdout)  # type: ignore[no-any-return]


def test_trace_an_accepted_a_duplicate_and_a_rejected_signature(
    settings: Settings, worker: WorkerProcess, results: Results, tmp_path: Path
) -> None:
    events, petitions, truth = dataset_with_truth(31, 1_500, settings)
    prepare(settings, petitions)
    worker.start()
    produce(settings, events)
    results.wait_for(truth, timeout=300, worker=worker)
    log = tmp_path / "trace.log"

    duplicate = first(events, "duplicate")
    found = trace(worker, log, duplicate["signature_id"])
    (step,) = found["submissions"]
    assert (step["rules"], step["recorded"]) == ("accepted", "duplicate")
    assert "already signed" in step["recorded_detail"]
    winner = found["winner"]
    assert winner["signature_id"] != duplicate["signature_id"]

    by_email = trace(
        worker, log, "--petition", duplicate["petition_id"], "--email", duplicate["email"]
    )
    recorded = sorted(s["recorded"] for s in by_email["submissions"])
    assert recorded.count("winner") == 1 and len(recorded) >= 2
    assert by_email["winner"] == winner
    assert by_email["counted_in"]["count"] >= 1

    rejected = first(events, "invalid_country")
    found = trace(worker, log, rejected["signature_id"])
    (step,) = found["submissions"]
    assert step["rules"] == step["recorded"] == "invalid_country"
    assert found["winner"] is None


def test_trace_says_when_nothing_matches(
    settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    worker.start()
    worker.wait_until_serving()
    done = worker.run(["trace", "no-such-signature"], tmp_path / "trace.log", expect=1)
    assert "no such submission" in done.stdout


def test_the_ops_routes_refuse_a_request_without_the_token(
    settings: Settings, worker: WorkerProcess
) -> None:
    worker.start()
    worker.wait_until_serving()
    request = urllib.request.Request(
        f"http://127.0.0.1:{worker.web_port}/ops/counts",
        headers={"Authorization": "Bearer not-the-token"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
