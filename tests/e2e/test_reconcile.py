"""``countersign reconcile`` proves the shown counts from the log, and catches a count
altered by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from streams.core.settings import Settings
from streams.testing.dataset import dataset_with_truth
from streams.testing.processes import REPO, Results, WorkerProcess, prepare, produce

#: One (petition, country) whose count the test inflates behind the pipeline's back.
TAMPER = """
import sys
from sinks.clickhouse.client import connect
from streams.core.settings import Settings
settings = Settings()
client = connect(settings.clickhouse_target)
client.command(
    f"INSERT INTO {settings.clickhouse_database}.regional_counts "
    "SELECT petition_id, region, country, argMax(signatures, (version, signatures)) + 7, "
    "argMax(pending, (version, signatures)), max(version) + 1, now64(3) "
    f"FROM {settings.clickhouse_database}.regional_counts "
    "WHERE petition_id = %(p)s AND country = %(c)s GROUP BY petition_id, region, country",
    parameters={"p": sys.argv[1], "c": sys.argv[2]},
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
        if r["region"] not in ("(rejected)", "(all regions)") and r["expected"]
    }
    assert counted == dict(truth.counts)  # the recount is the truth, not just consistent

    petition, region, country = max(truth.counts, key=lambda k: truth.counts[k])
    assert worker.api is not None
    worker.api.stop()  # serve owns the embedded ClickHouse: alter it while serve is down
    subprocess.run(
        [sys.executable, "-c", TAMPER, petition, country],
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
