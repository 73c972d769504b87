"""The surge detector in the real intake: once it has watched a baseline, a wave of
signatures from one email domain shows in the log, the metrics and /healthz, and
every signature of it is still taken (a surge refuses nobody)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from streams.core.settings import Settings
from streams.demo.simulator import default_petitions
from streams.testing.processes import IntakeProcess, ops_headers, prepare
from tests.intake_client import post_json, request

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def sign(intake: IntakeProcess, n: int, email: str) -> int:
    fields = {"full_name": f"Signer {n}", "email": email, "country": "FR"}
    return post_json(intake.url, "syria-icc", fields, ip=f"198.51.{n // 250}.{n % 250}").status


def test_a_wave_from_one_domain_is_reported_and_nobody_is_refused(
    settings: Settings, intake: IntakeProcess
) -> None:
    prepare(settings, default_petitions(datetime.now(UTC)))
    intake.extra_env |= {
        # One-second buckets: a baseline watched in 10 s, not a whole minute.
        "COUNTERSIGN_INTAKE_SURGE_BUCKET_SECONDS": "1",
        "COUNTERSIGN_INTAKE_SURGE_WINDOW_SECONDS": "10",
        "COUNTERSIGN_INTAKE_SURGE_BASELINE_SECONDS": "10",
        "COUNTERSIGN_INTAKE_SURGE_FACTOR": "5",
        "COUNTERSIGN_INTAKE_SURGE_MIN_SIGNATURES": "30",
    }
    intake.start(wait_for_petition="syria-icc")
    started = time.monotonic()
    assert [sign(intake, n, f"p{n}@mail{n}.example") for n in range(3)] == [202] * 3
    time.sleep(max(0.0, 11 - (time.monotonic() - started)))  # the baseline, watched
    answers = [sign(intake, 100 + n, f"bot{n}@bots.example") for n in range(40)]
    assert answers == [202] * 40

    health = request(f"{intake.url}/healthz", method="GET").body
    assert any("from bots.example" in surge for surge in health["surges"]), health
    metrics = request(
        f"{intake.url}/metrics", method="GET", headers=ops_headers(intake.settings)
    ).body
    assert 'countersign_intake_surges_total{kind="domain"} 1.0' in metrics
    assert "surge on petition syria-icc" in intake.log_path.read_text()
