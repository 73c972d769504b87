"""An embedded ClickHouse directory opens in one process; the second gets a clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streams.core.errors import ClickHouseLocked, CountersignError

HOLD = """
import sys, time
from sinks.clickhouse.client import connect
connect(sys.argv[1]).command("SELECT 1")
print("holding", flush=True)
time.sleep(60)
"""

TRY = """
import sys
from sinks.clickhouse.client import connect
from streams.core.errors import ClickHouseLocked
try:
    connect(sys.argv[1])
except ClickHouseLocked as exc:
    print(exc)
    sys.exit(3)
"""


def test_a_second_process_is_told_who_holds_the_directory(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path / 'clickhouse'}"
    repo = Path(__file__).resolve().parents[2]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, dsn], cwd=repo, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        second = subprocess.run(
            [sys.executable, "-c", TRY, dsn],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 3, second.stderr
        assert f"in use by pid {holder.pid}" in second.stdout
        assert "only one process" in second.stdout
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_error_is_a_countersign_runtime_error() -> None:
    assert issubclass(ClickHouseLocked, CountersignError)
    assert issubclass(ClickHouseLocked, RuntimeError)
    with pytest.raises(RuntimeError):
        raise ClickHouseLocked("x")
