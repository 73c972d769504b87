"""Countersign processes started by another one (``python -m streams ...``): the
replay's own worker and serve, and the tests' and benchmarks' processes.

A child gets the parent's settings through the environment (``environment``), a log
file, and a graceful stop (SIGTERM, then SIGKILL after a minute).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO, Self

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from streams.core.errors import ChildFailed
from streams.core.kafka_security import KafkaSecuritySettings
from streams.core.settings import Settings
from streams.core.transparency_settings import TransparencySettings


def free_port() -> int:
    """A TCP port nobody listens on right now, on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _spelled(settings: Settings, group: type[BaseSettings]) -> dict[str, str]:
    """The settings of one group (a mixin of ``Settings``) as environment variables."""
    spelled: dict[str, str] = {}
    for name in group.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, bool):
            value = str(value).lower()
        spelled[f"COUNTERSIGN_{name.upper()}"] = str(value)
    return spelled


def environment(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment with ``settings`` spelled out, so that a child reads
    the same settings (and ``extra`` on top)."""
    spelled = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "COUNTERSIGN_ENV": settings.env,
        "COUNTERSIGN_TOPIC_PREFIX": settings.topic_prefix,
        "COUNTERSIGN_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "COUNTERSIGN_APP_ID": settings.app_id,
        "COUNTERSIGN_DATA_DIR": str(settings.data_dir),
        "COUNTERSIGN_EMAIL_HASH_KEY": settings.email_hash_key.get_secret_value(),
        "COUNTERSIGN_EMAIL_HASH_KEY_ID": settings.email_hash_key_id,
        "COUNTERSIGN_EMAIL_HASH_PREVIOUS_KEYS": (
            settings.email_hash_previous_keys.get_secret_value()
        ),
        "COUNTERSIGN_OPS_TOKEN": settings.ops_token.get_secret_value(),
        "COUNTERSIGN_MASTER_KEY": settings.master_key.get_secret_value(),
        "COUNTERSIGN_MASTER_KEY_ID": settings.master_key_id,
        "COUNTERSIGN_ERASURE_WINDOW_SECONDS": str(settings.erasure_window_seconds),
        "COUNTERSIGN_SEAL_PERSONAL_DATA": str(settings.seal_personal_data).lower(),
        "COUNTERSIGN_CLICKHOUSE_DATABASE": settings.clickhouse_database,
        "COUNTERSIGN_CONSUMER_SESSION_TIMEOUT_SECONDS": str(
            settings.consumer_session_timeout_seconds
        ),
    }
    for group in (KafkaSecuritySettings, TransparencySettings):
        spelled |= _spelled(settings, group)
    if settings.clickhouse_dsn:
        spelled["COUNTERSIGN_CLICKHOUSE_DSN"] = settings.clickhouse_dsn
    if settings.master_key_file is not None:  # the child reads the file too
        spelled["COUNTERSIGN_MASTER_KEY_FILE"] = str(settings.master_key_file)
    return {**os.environ, **spelled, **(extra or {})}


class ChildProcess:
    """A ``python -m streams ...`` child process with a log file, stopped gracefully."""

    def __init__(self, settings: Settings, log_path: Path, cwd: Path | None = None) -> None:
        self.settings = settings
        self.log_path = log_path
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The running (or last) process's id; None before the first start."""
        return self.process.pid if self.process is not None else None

    def spawn(self, args: list[str], env: dict[str, str]) -> None:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streams", *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.cwd,
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, no transaction is committed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> int | None:
        """SIGTERM, then the exit code (SIGKILL after 60 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None
        return None if self.process is None else self.process.returncode

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def wait_for_health(
        self, name: str, port: int, deadline: float, path: str = "/healthz"
    ) -> None:
        """Until the child answers ``path`` on ``port`` with 200 (``/readyz``: the
        worker holds its partitions)."""
        while time.monotonic() < deadline:
            if not self.alive():
                raise ChildFailed(f"the {name} exited:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise ChildFailed(f"the {name} did not serve {path} in time:\n{self.log_tail()}")
