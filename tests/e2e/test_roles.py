"""``countersign sink`` and ``countersign api``: the two halves of ``serve`` as separate
processes (docs/scaling.md)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from sinks.clickhouse.client import connect
from sinks.clickhouse.migrate import migrate, migrations, pending
from streams.core.children import ChildProcess, environment, free_port
from streams.core.settings import Settings
from streams.testing.dataset import dataset_with_truth
from streams.testing.processes import REPO, Results, WorkerProcess, prepare, produce
from tests.e2e.test_clickhouse_counts import query_after_stop, wait_for_sink


def test_the_sink_alone_writes_exact_counts_and_serves_only_its_health(
    settings: Settings, results: Results, tmp_path: Path
) -> None:
    events, petitions, truth = dataset_with_truth(41, 5_000, settings)
    prepare(settings, petitions)
    port = free_port()
    with (
        WorkerProcess(settings, tmp_path / "worker.log", free_port(), with_api=False) as worker,
        ChildProcess(settings, tmp_path / "sink.log") as sink,
    ):
        sink.spawn(["sink", "--port", str(port)], environment(settings))
        sink.wait_for_health("sink", port, time.monotonic() + 120)
        worker.start()
        produce(settings, events)
        results.wait_for(truth, timeout=300, worker=worker)
        wait_for_sink(settings)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
            health = json.load(answer)
        with pytest.raises(urllib.error.HTTPError) as no_api:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/petitions", timeout=10)
        assert sink.stop() == 0
    assert health["checks"]["sink"]["ok"]
    assert health["checks"]["sink"]["lag"] is not None
    assert no_api.value.code == 404
    stored = query_after_stop(settings)
    assert Counter({(p, r, c): n for p, r, c, n in stored["totals"]}) == truth.counts
    assert Counter({(p, reason): n for p, reason, n in stored["reasons"]}) == truth.reasons


def test_an_api_replica_refuses_the_embedded_engine_and_says_what_to_run(
    settings: Settings,
) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "streams", "api"],
        env=environment(settings),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert "one process opens at a time" in run.stderr
    assert "countersign serve" in run.stderr


def test_pending_lists_every_migration_until_they_are_applied(
    clickhouse_dsn: str, test_id: str
) -> None:
    """What an API replica waits on before it reads (it never writes the schema)."""
    database = f"fresh_{test_id}"
    client = connect(clickhouse_dsn)  # the session's chDB: one data path per process
    try:
        assert pending(client, database) == migrations()
        migrate(client, database)
        assert pending(client, database) == []
    finally:
        client.close()
