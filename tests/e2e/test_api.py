"""The worker's HTTP API over the real pipeline and the real ClickHouse engine."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

from streams.core.settings import Settings
from streams.testing.dataset import dataset_with_truth
from streams.testing.processes import Results, WorkerProcess, ops_headers, prepare, produce


def get(worker: WorkerProcess, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{worker.web_port}{path}"
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers or {}), timeout=10
        ) as r:
            body = r.read()
            kind = r.headers.get("Content-Type", "")
            return r.status, json.loads(body) if "json" in kind else body.decode()
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_for_counts(
    worker: WorkerProcess, petition: str, total: int, rejected: dict[str, int]
) -> dict[str, Any]:
    """The counts once the sink has caught up (or the last seen, after 120 s)."""
    deadline = time.monotonic() + 120
    counts: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, counts = get(worker, f"/api/petitions/{petition}/counts")
        shown_rejected = {k: v for k, v in counts.get("rejected", {}).items() if v}
        if status == 200 and counts["total"] == total and shown_rejected == rejected:
            break
        time.sleep(1)
    return counts


def test_api_counts_equal_the_truth(
    settings: Settings, worker: WorkerProcess, results: Results
) -> None:
    events, petitions, truth = dataset_with_truth(31, 3_000, settings)
    prepare(settings, petitions)
    worker.start()
    produce(settings, events)
    results.wait_for(truth, timeout=300, worker=worker)

    for petition in {p for p, _, _ in truth.counts} | {p for p, _ in truth.reasons}:
        if petition == "no-such-petition":
            continue
        expected_total = sum(n for (p, _, _), n in truth.counts.items() if p == petition)
        expected_countries = {c: n for (p, _, c), n in truth.counts.items() if p == petition}
        expected_regions: Counter[str] = Counter()
        for (p, region, _), n in truth.counts.items():
            if p == petition:
                expected_regions[region] += n
        expected_rejected = {r: n for (p, r), n in truth.reasons.items() if p == petition}
        counts = wait_for_counts(worker, petition, expected_total, expected_rejected)
        assert counts["total"] == expected_total
        assert counts["by_country"] == expected_countries
        assert counts["by_region"] == dict(expected_regions)
        assert {k: v for k, v in counts["rejected"].items() if v} == expected_rejected
        assert set(counts["rejected"]) >= {"duplicate", "malformed", "invalid_email"}

    status, listing = get(worker, "/api/petitions")
    assert status == 200
    assert {p["petition_id"] for p in listing} == {p.petition_id for p in petitions}

    status, timeline = get(worker, "/api/petitions/syria-icc/timeline?minutes=100000")
    assert status == 200
    syria_total = sum(n for (p, _, _), n in truth.counts.items() if p == "syria-icc")
    assert sum(point["signatures"] for point in timeline["points"]) == syria_total


def test_unknown_petition_is_404_and_health_and_metrics_answer(
    settings: Settings, worker: WorkerProcess
) -> None:
    prepare(settings, [])
    worker.start()
    deadline = time.monotonic() + 90
    status = 0
    while time.monotonic() < deadline:
        try:
            status, health = get(worker, "/healthz")
            break
        except (ConnectionError, urllib.error.URLError):
            time.sleep(0.5)
    assert status == 200, health
    assert health["checks"]["kafka"]["ok"] and health["checks"]["clickhouse"]["ok"]
    assert health["checks"]["sink"]["lag"] == 0
    status, body = get(worker, "/api/petitions/nope/counts")
    assert (status, body) == (404, {"error": "no petition 'nope'"})
    assert get(worker, "/metrics")[0] == 401  # how the pipeline runs is for ops
    status, text = get(worker, "/metrics", ops_headers(worker.settings))
    assert status == 200 and "countersign_sink_rows" in text
    assert "countersign_sink_consumer_lag 0.0" in text


def test_the_worker_is_ready_once_it_holds_its_partitions_and_handles_what_comes_then(
    settings: Settings, worker: WorkerProcess, results: Results
) -> None:
    events, petitions, truth = dataset_with_truth(31, 200, settings)
    prepare(settings, petitions)
    worker.start()
    worker.wait_until_ready()
    url = f"http://127.0.0.1:{worker.metrics_port}/readyz"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert (response.status, json.load(response)) == (200, {"ready": True})
    produce(settings, events)
    results.wait_for(truth, timeout=90, worker=worker)
    assert results.matches(truth)
