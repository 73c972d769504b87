"""End-to-end tests: real broker, real worker processes, datasets with known truth."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.settings import Settings
from tests.pipeline import Results, WorkerProcess


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.slow)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    process = WorkerProcess(settings, tmp_path / "worker.log", free_port())
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def results(settings: Settings) -> Iterator[Results]:
    reader = Results(settings)
    try:
        yield reader
    finally:
        reader.close()
