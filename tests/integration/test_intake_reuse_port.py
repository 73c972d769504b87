"""Several intake processes on one port (COUNTERSIGN_INTAKE_REUSE_PORT): a process per
core, the kernel spreading the connections."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest

from streams.core.settings import Settings
from streams.testing.processes import IntakeProcess, free_port

pytestmark = pytest.mark.slow

LISTENING = "streams.intake.app: intake on http://"  # its log line, not its source


def listening_or_gone(intake: IntakeProcess, timeout: float = 60) -> bool:
    """Whether it logged that it listens (True) or exited (False); its own log, as
    /healthz on a shared port may be answered by the other one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if LISTENING in intake.log_path.read_text():
            return True
        if not intake.alive():
            return False
        time.sleep(0.2)
    raise AssertionError(f"neither listening nor gone:\n{intake.log_tail()}")


def test_two_intakes_share_a_port_and_either_serves_it(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    first, second = (IntakeProcess(settings, tmp_path / f"intake{i}.log", port) for i in range(2))
    for intake in (first, second):
        intake.extra_env["COUNTERSIGN_INTAKE_REUSE_PORT"] = "true"
    with first, second:
        first.start()
        second.start()
        assert listening_or_gone(second), second.log_tail()
        assert first.alive()
        first.stop()
        with urllib.request.urlopen(f"{second.url}/healthz", timeout=10) as answer:
            assert answer.status == 200  # the one left serves the port alone


def test_without_it_a_second_intake_on_a_taken_port_fails(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    first, second = (IntakeProcess(settings, tmp_path / f"intake{i}.log", port) for i in range(2))
    with first, second:
        first.start()
        second.start()  # /healthz answers: the first one does
        assert not listening_or_gone(second)
        assert "address already in use" in second.log_path.read_text().lower()
        assert first.alive()
