"""The seed campaign — its people, plus duplicates, resends, typos and junk — through
the HTTP intake: the worker's counts equal the simulator's ground truth. The suite runs
10,000 of its 165,953 people; `make soak` runs them all."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from streams.core.settings import Settings
from streams.demo.campaign import SEED_PETITION
from streams.demo.traffic import REMEMBERED
from streams.testing.processes import IntakeProcess, WorkerProcess, run_command
from streams.testing.reference import regions
from tests.intake_client import request

#: The suite runs the campaign's profile at 10,000 people (about a minute); `make soak`
#: runs all of them (COUNTERSIGN_SEED_SIGNATURES=165953, about 20 minutes).
SIGNATURES = int(os.environ.get("COUNTERSIGN_SEED_SIGNATURES", "10000"))


@pytest.mark.timeout(1800)
def test_the_seed_campaign_through_the_intake_is_counted_exactly(
    settings: Settings, worker: WorkerProcess, intake: IntakeProcess, tmp_path: Path
) -> None:
    worker.start()
    intake.start()
    truth_file = tmp_path / "truth.json"
    run_command(
        settings,
        ["simulate", "--profile", "seed-campaign", "--via", "http", "--intake-url", intake.url,
         "--signatures", str(SIGNATURES), "--truth", str(truth_file)],
        tmp_path / "simulate.log",
    )  # fmt: skip
    truth = json.loads(truth_file.read_text())
    expected = truth["petitions"][SEED_PETITION]
    assert expected["total"] == SIGNATURES
    # No 429/503 on the way; resends of one submission answered from the intake's memory.
    assert set(truth["intake"]) <= {"202", "400", REMEMBERED}, truth["intake"]

    deadline = time.monotonic() + 1200
    counts: dict[str, Any] = {}
    while time.monotonic() < deadline:
        assert worker.alive(), worker.log_tail()
        answer = request(
            f"http://127.0.0.1:{worker.web_port}/api/petitions/{SEED_PETITION}/counts",
            method="GET",
        )
        counts = answer.body if answer.status == 200 else {}
        rejected = {k: v for k, v in counts.get("rejected", {}).items() if v}
        if counts.get("total") == expected["total"] and rejected == expected["rejected"]:
            break
        time.sleep(5)
    time.sleep(5)  # anything counted twice would show now
    counts = request(
        f"http://127.0.0.1:{worker.web_port}/api/petitions/{SEED_PETITION}/counts", method="GET"
    ).body

    assert counts["total"] == expected["total"]
    assert counts["by_country"] == expected["by_country"]
    by_region: Counter[str] = Counter()
    for country, n in expected["by_country"].items():
        by_region[regions()[country]] += n  # the tests' own reading of the region file
    assert {r: n for r, n in counts["by_region"].items() if n} == dict(by_region)
    assert {r: n for r, n in counts["rejected"].items() if n} == expected["rejected"]
