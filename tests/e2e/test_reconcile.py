"""``countersign reconcile`` proves the shown counts from the log, and catches a count
altered by hand."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from streams.core.settings import Settings
from streams.testing.dataset import dataset_with_truth
from streams.testing.processes import (
    REPO,
    ChildProcess,
    Results,
    WorkerProcess,
    prepare,
    produce,
)

#: One (petition, country) whose count the test inflates behind the pipeline's back,
#: in a row that claims to be the newest (``argv[3]``: how much newer) and to cover
#: what the real one covered.
TAMPER = """
import sys
from sinks.clickhouse.client import connect
from streams.core.settings import Settings
settings = Settings()
client = connect(settings.clickhouse_target)
client.command(
    f"INSERT INTO {settings.clickhouse_database}.regional_counts "
    "SELECT petition_id, region, country, argMax(signatures, (version, signatures)) + 7, "
    "argMax(pending, (version, signatures)), max(version) + %(newer)s, now64(3), "
    "argMax(cut, (version, signatures)) "
    f"FROM {settings.clickhouse_database}.regional_counts "
    "WHERE petition_id = %(p)s AND country = %(c)s GROUP BY petition_id, region, country",
    parameters={"p": sys.argv[1], "c": sys.argv[2], "newer": int(sys.argv[3])},
)
"""


def test_reconcile_agrees_names_a_count_altered_by_hand_and_agrees_after_rebuild(
    settings: Settings, worker: WorkerProcess, results: Results, tmp_path: Path
) -> None:
    events, petitions, truth = dataset_with_truth(21, 3_000, settings)
    prepare(settings, petitions)
    worker.start()
    produce(settings, events)
    results.wait_for(truth, timeout=300, worker=worker)

    done = worker.run(["reconcile", "--format", "json"], tmp_path / "r1.log")
    report = json.loads(done.stdout)
    assert report["events"] == len(events)
    counted = {
        (r["petition"], r["region"], r["country"]): r["expected"]
        for r in report["rows"]
        if not r["region"].startswith("(") and r["expected"]  # a region, not a label
    }
    assert counted == dict(truth.counts)  # the recount is the truth, not just consistent

    petition, region, country = max(truth.counts, key=lambda k: truth.counts[k])
    assert worker.api is not None
    worker.api.stop()  # serve owns the embedded ClickHouse: alter it while serve is down
    subprocess.run(
        [sys.executable, "-c", TAMPER, petition, country, "1"],
        env=worker.environment(),
        cwd=REPO,
        check=True,
    )
    worker.api.start(worker.extra_env)
    worker.wait_until_serving()

    done = worker.run(["reconcile", "--settle", "0"], tmp_path / "r2.log", expect=1)
    expected, inflated = (
        truth.counts[(petition, region, country)],
        truth.counts[(petition, region, country)] + 7,
    )
    line = next(line for line in done.stdout.splitlines() if f" {country} " in line)
    assert petition in line and str(expected) in line and str(inflated) in line
    assert "2 numbers differ from the log" in done.stdout  # the country and its total
    print(done.stdout)

    done = worker.run(["rebuild"], tmp_path / "rb.log")
    print(done.stdout)
    worker.run(["reconcile", "--settle", "0"], tmp_path / "r3.log")


def tamper_with(worker: WorkerProcess, petition: str, country: str, newer: int) -> None:
    """Alter one count in ClickHouse (serve owns the embedded engine: it is stopped
    meanwhile, and the pipeline keeps counting)."""
    assert worker.api is not None
    worker.api.stop()
    subprocess.run(
        [sys.executable, "-c", TAMPER, petition, country, str(newer)],
        env=worker.environment(),
        cwd=REPO,
        check=True,
    )
    worker.api.start(worker.extra_env)
    worker.wait_until_serving()


def test_reconcile_agrees_while_the_demo_feed_signs_and_catches_a_tampered_count(
    settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    """Each count carries the log positions it covers, and reconcile recounts up to
    exactly them: no false alarm under live traffic, and a real difference still shows."""
    worker.start()
    worker.wait_until_serving()
    with ChildProcess(settings, tmp_path / "simulate.log") as feed:
        feed.spawn(["simulate", "--count", "4000", "--rate", "50"], worker.environment())
        time.sleep(15)
        done = worker.run(["reconcile", "--format", "json"], tmp_path / "live.log")
        assert feed.alive(), "the feed ended before reconcile did: not a live audit"
        report = json.loads(done.stdout)
        assert report["agrees"] and report["cut"], done.stdout
        # The API is read after the table: a row may be shown by the API alone.
        counted = [
            r
            for r in report["rows"]
            if not r["region"].startswith("(") and "regional_counts" in r["found"]
        ]
        assert sum(r["found"]["regional_counts"] for r in counted) > 0

        shown = max(counted, key=lambda r: r["found"]["regional_counts"])
        tamper_with(worker, shown["petition"], shown["country"], 10**12)
        done = worker.run(["reconcile", "--settle", "5"], tmp_path / "tampered.log", expect=1)
        assert feed.alive(), "the feed ended before reconcile did: not a live audit"
        print(done.stdout)
        line = next(line for line in done.stdout.splitlines() if f" {shown['country']} " in line)
        assert shown["petition"] in line and "(log: " not in line  # the aggregate's row
        assert "compared at the cut of the counts read at" in done.stdout
