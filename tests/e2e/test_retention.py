"""Retention end to end (docs/privacy.md): ``serve``'s scheduled job shreds a closed
petition's names once its ``retain_names_days`` have passed (0 here, with the real
clock, from the moment ``petitions close`` closes it; tests/integration/
test_retention.py moves a test clock over 30 days). The counts stay, reconcile
agrees, and the export lists no name and says why."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.codec import codec
from streams.catalogue.store import new_petition, publish_petition
from streams.core.logscan import scan, whole_log
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.core.topicspecs import ERASURES
from streams.testing.processes import IntakeProcess, WorkerProcess
from tests.e2e.test_sealed_signatures import counts, sign, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PETITION = "kept-until-closed"
SIGNERS = {
    "astrid.lindqvist@example.org": "Astrid Lindqvist",
    "tomasz.wrobel@example.org": "Tomasz Wróbel",
    "naledi.dube@example.org": "Naledi Dube",
}


def planned(worker: WorkerProcess, tmp_path: Path) -> dict[str, object]:
    shown = worker.run(["retention", "--dry-run"], tmp_path / "retention.log")
    [row] = [line for line in shown.stdout.splitlines() if PETITION in line]
    return {"due": " due " in row, "keys": row.split("│")[-2].strip()}


def test_a_closed_petition_past_its_retention_loses_its_names_and_keeps_its_counts(
    settings: Settings, worker: WorkerProcess, intake: IntakeProcess, tmp_path: Path
) -> None:
    create_topics(settings)
    worker.extra_env["COUNTERSIGN_RETENTION_CHECK_SECONDS"] = "1"
    worker.start()
    worker.wait_until_serving()
    now = datetime.now(UTC)
    publish_petition(
        settings,
        new_petition(
            PETITION,
            "Names kept until it closes",
            opens_at=now - timedelta(days=1),
            confirmation="none",
            retain_names_days=0,
            now=now,
        ),
    )
    intake.extra_env["COUNTERSIGN_SEAL_PERSONAL_DATA"] = "true"
    intake.extra_env["COUNTERSIGN_API_PORT"] = str(worker.web_port)
    intake.start(wait_for_petition=PETITION)
    for email, name in SIGNERS.items():
        sign(intake, PETITION, email, name=name)
    before = wait_for(worker, PETITION, total=3)
    assert planned(worker, tmp_path) == {"due": False, "keys": "3"}  # open: kept
    listed = tmp_path / "before.csv"
    worker.run(
        ["export", PETITION, "--format", "csv", "--output", str(listed)], tmp_path / "e1.log"
    )
    assert "Tomasz Wróbel" in listed.read_text()

    worker.run(["petitions", "close", PETITION], tmp_path / "close.log")  # 0 days from now
    deadline = time.monotonic() + 60
    while planned(worker, tmp_path) != {"due": True, "keys": "0"}:
        assert time.monotonic() < deadline, "serve's retention job never shredded the keys"
        time.sleep(1)

    after = counts(worker, PETITION)
    assert (after["total"], after["by_country"]) == (before["total"], before["by_country"])
    again = tmp_path / "after.csv"
    exported = worker.run(
        ["export", PETITION, "--format", "csv", "--output", str(again)], tmp_path / "e2.log"
    )
    assert "left out: 3 names erased" in exported.stdout
    assert "the retention policy shredded these signers' names" in exported.stderr
    assert not any(name in again.read_text() for name in SIGNERS.values())
    worker.run(["reconcile", "--settle", "10"], tmp_path / "reconcile.log")
    [erasure] = [
        codec("Erasure").decode(record.value or b"")
        for record in scan(settings, whole_log(settings, ERASURES.name))
    ]
    assert (erasure["reason"], erasure["requested_by"], len(erasure["keys"])) == (
        "retention",
        "retention",
        3,
    )
