"""One process at a time per directory: the embedded ClickHouse's, a worker's state."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from streams.core.children import environment
from streams.core.dirlock import hold_for_life
from streams.core.settings import Settings
from tests.conftest import REPO

TRY_THE_LOCK = """
import sys
from pathlib import Path
from streams.core.dirlock import hold_for_life
print(hold_for_life(Path(sys.argv[1])))
"""


def test_the_holder_may_take_its_lock_again(tmp_path: Path) -> None:
    assert hold_for_life(tmp_path / "state") is None
    assert hold_for_life(tmp_path / "state") is None


def test_another_process_is_told_who_holds_it(tmp_path: Path) -> None:
    assert hold_for_life(tmp_path / "state") is None
    other = subprocess.run(
        [sys.executable, "-c", TRY_THE_LOCK, str(tmp_path / "state")],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
        timeout=60,
    )
    assert other.stdout.strip() == f"pid {os.getpid()}"


def test_a_second_worker_on_the_same_state_is_refused_before_it_starts(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    assert hold_for_life(settings.data_dir / "faust") is None  # as a running worker would
    second = subprocess.run(
        [sys.executable, "-m", "streams", "worker"],
        env=environment(settings),
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=120,
    )
    assert second.returncode == 2
    said = " ".join(second.stderr.split())  # the CLI wraps long lines where it may
    assert f"in use by pid {os.getpid()}" in said
    assert "COUNTERSIGN_DATA_DIR of its own" in said
