"""The edges of ``countersign serve`` (a real process, its own chDB): the dashboard's
content security policy, and answers to bad query parameters."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.core.settings import Settings
from streams.demo.simulator import default_petitions
from streams.testing.processes import ServeProcess, free_port, prepare
from tests.intake_client import request


@pytest.fixture
def serve(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """The base URL of a running serve that knows the demo petitions."""
    prepare(settings, default_petitions(datetime.now(UTC)))
    process = ServeProcess(settings, tmp_path / "serve.log", free_port())
    with process:
        process.start({})
        process.wait_for_health("serve", process.port, time.monotonic() + 120)
        base = f"http://127.0.0.1:{process.port}"
        deadline = time.monotonic() + 60
        while request(f"{base}/api/petitions", method="GET").body == []:
            assert time.monotonic() < deadline, "serve never saw the petitions"
            time.sleep(0.3)
        yield base


def test_the_dashboard_runs_only_its_own_script_and_style_and_is_framed_by_nobody(
    serve: str,
) -> None:
    page = request(f"{serve}/", method="GET")
    assert page.status == 200
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert "<script>" not in page.body and "style=" not in page.body  # nothing inline
    assert '<script src="/static/dashboard.js">' in page.body
