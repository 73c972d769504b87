"""The edges of ``countersign serve`` (a real process, its own chDB): the dashboard's
content security policy, and answers to bad query parameters."""

from __future__ import annotations

import re
import urllib.parse
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from streams.catalogue.store import new_petition, publish_petition
from streams.core.settings import Settings
from streams.demo.simulator import default_petitions
from streams.testing.processes import ServeProcess, free_port, prepare
from tests.conftest import isolated_settings
from tests.intake_client import Answer, request


@pytest.fixture(scope="module")
def running(kafka: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, str]]:
    """A running serve that knows the demo petitions, with its settings: one for the
    module, as every test here only reads (or adds a petition of its own)."""
    directory = tmp_path_factory.mktemp("serve-edges")
    settings = isolated_settings(kafka, uuid.uuid4().hex[:10], directory)
    prepare(settings, default_petitions(datetime.now(UTC)))
    process = ServeProcess(settings, directory / "serve.log", free_port())
    with process:
        yield settings, process.start_serving({})


@pytest.fixture
def serve(running: tuple[Settings, str]) -> str:
    """The base URL of the module's serve."""
    return running[1]


def test_a_petition_added_a_moment_ago_is_answered_not_404(running: tuple[Settings, str]) -> None:
    settings, url = running
    for n in range(5):  # each asked right after Kafka took it
        petition_id = f"just-added-{n}"
        publish_petition(
            settings,
            new_petition(
                petition_id, "Just added", opens_at=datetime.now(UTC), now=datetime.now(UTC)
            ),
        )
        answer = request(f"{url}/api/petitions/{petition_id}/counts", method="GET")
        assert answer.status == 200, (petition_id, answer.body)
        assert answer.body["total"] == 0


def test_a_petition_nobody_added_is_404_after_the_catalogue_caught_up(serve: str) -> None:
    answer = request(f"{serve}/api/petitions/never-added/counts", method="GET")
    assert (answer.status, answer.body) == (404, {"error": "no petition 'never-added'"})


def test_the_dashboard_runs_only_its_own_script_and_style_and_is_framed_by_nobody(
    serve: str,
) -> None:
    page = request(f"{serve}/", method="GET")
    assert page.status == 200
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert "<script>" not in page.body and "style=" not in page.body  # nothing inline
    scripts = re.findall(r"<script\b[^>]*>", page.body)
    assert scripts and all(re.search(r'\ssrc="/static/[^"]+"', tag) for tag in scripts), scripts


def timeline(serve: str, minutes: str, **more: str) -> Answer:
    query = urllib.parse.urlencode({"minutes": minutes, **more})
    return request(f"{serve}/api/petitions/syria-icc/timeline?{query}", method="GET")


def test_a_timeline_of_no_whole_number_of_minutes_up_to_a_year_is_400(serve: str) -> None:
    for minutes in ["abc", "-1", "0", "1.5", "527041", "9" * 5000, "\u0663", ""]:
        answer = timeline(serve, minutes)
        assert answer.status == 400, minutes
        assert answer.body["error"].startswith("minutes must be a whole number from 1 to 527040")


def test_a_timeline_of_whole_minutes_up_to_a_year_is_answered(serve: str) -> None:
    for minutes in ["1", "120", "527040"]:
        answer = timeline(serve, minutes)
        assert (answer.status, answer.body) == (
            200,
            {
                "petition_id": "syria-icc",
                "bucket": "minute",
                "points": [],
                "rate": {"last_minute": 0, "last_hour": 0},
            },
        ), minutes


def test_a_timeline_in_buckets_other_than_minutes_hours_or_days_is_400(serve: str) -> None:
    for bucket in ["week", "Minute", "", "hour ", "minute,hour"]:
        answer = timeline(serve, "60", bucket=bucket)
        assert answer.status == 400, bucket
        assert answer.body["error"] == f"bucket must be one of minute, hour, day, not {bucket!r}"


def test_a_timeline_is_answered_in_each_bucket_it_names(serve: str) -> None:
    for bucket in ["minute", "hour", "day"]:
        answer = timeline(serve, "60", bucket=bucket)
        assert (answer.status, answer.body["bucket"]) == (200, bucket)
