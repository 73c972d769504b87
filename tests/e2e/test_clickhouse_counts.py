"""End to end into ClickHouse: the worker's sink writes the real engine (chDB), and
SELECTs on it equal the independent truth: the aggregate's totals (what the API
reads) and ClickHouse's own recount of the signature rows (the cross-check) alike."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter

from sinks.clickhouse.sink import sink_group_id
from streams.core import kafka
from streams.core.settings import Settings
from streams.core.topicspecs import ACCEPTED, COUNTS, DUPLICATES, REJECTED
from streams.testing.dataset import dataset_with_truth
from streams.testing.processes import REPO, Results, WorkerProcess, prepare, produce

QUERY = """
import json, sys
from sinks.clickhouse.client import connect
client = connect(sys.argv[1])
print(json.dumps({
    "totals": client.query("SELECT petition_id, region, country, max(signatures) "
        "FROM countersign.regional_counts GROUP BY petition_id, region, country").result_rows,
    "recount": client.query("SELECT petition_id, region, country, sum(signatures) "
        "FROM countersign.signature_counts GROUP BY petition_id, region, country").result_rows,
    "reasons": client.query("SELECT petition_id, reason, count() FROM countersign.rejections "
        "FINAL GROUP BY petition_id, reason").result_rows,
}))
"""


def query_after_stop(settings: Settings) -> dict[str, list[list[object]]]:
    """chDB opens a directory in one process: ask a fresh one, once the worker is gone."""
    result = subprocess.run(
        [sys.executable, "-c", QUERY, settings.clickhouse_target],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=True,
    )
    data: dict[str, list[list[object]]] = json.loads(result.stdout.splitlines()[-1])
    return data


def wait_for_sink(settings: Settings, timeout: float = 180) -> None:
    """Until the sink's group has committed everything on its four topics."""
    topics = [settings.topic(t.name) for t in (ACCEPTED, REJECTED, DUPLICATES, COUNTS)]
    deadline = time.monotonic() + timeout
    lag = -1
    while time.monotonic() < deadline:
        lag = kafka.group_lag(settings, sink_group_id(settings), topics)
        if lag == 0:
            return
        time.sleep(1)
    raise AssertionError(f"the sink is still {lag} records behind")


def test_clickhouse_counts_equal_the_truth(
    settings: Settings, worker: WorkerProcess, results: Results
) -> None:
    events, petitions, truth = dataset_with_truth(21, 20_000, settings)
    prepare(settings, petitions)
    worker.start()
    produce(settings, events)
    results.wait_for(truth, timeout=600, worker=worker)
    wait_for_sink(settings)
    worker.stop()
    stored = query_after_stop(settings)
    totals = Counter({(p, r, c): n for p, r, c, n in stored["totals"]})
    recount = Counter({(p, r, c): n for p, r, c, n in stored["recount"]})
    assert totals == truth.counts
    assert recount == totals  # the cross-check agrees with the source of counts
    assert Counter({(p, reason): n for p, reason, n in stored["reasons"]}) == truth.reasons
