"""Mailpit, the real mail server of development and tests, run by a test.

``make install`` builds it (``.cache/bin/mailpit``); ``MailpitServer`` runs one on
free loopback ports with its own database, so each test reads only its own mail, and
is its REST API (``streams.demo.mailbox.MailpitApi``).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import IO, Self

from streams.core.children import free_port
from streams.demo.mailbox import MailpitApi

REPO = Path(__file__).resolve().parents[2]
MAILPIT = REPO / ".cache" / "bin" / "mailpit"


def mailpit_command(smtp: str, http: str, database: Path) -> list[str]:
    """Mailpit on loopback only, every mail kept (tests count them), no call home."""
    return [
        str(MAILPIT),
        "--smtp", smtp,
        "--listen", http,
        "--database", str(database),
        "--max", "0",
        "--disable-version-check",
        "--quiet",
    ]  # fmt: skip


class MailpitServer(MailpitApi):
    def __init__(self, workdir: Path) -> None:
        if not MAILPIT.exists():
            raise FileNotFoundError(f"{MAILPIT} is missing: `make install` builds Mailpit")
        self.smtp_port = free_port()
        self.http_port = free_port()
        super().__init__(f"http://127.0.0.1:{self.http_port}")
        self.workdir = workdir
        self.smtp_url = f"smtp://127.0.0.1:{self.smtp_port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        #: More of Mailpit's options (e.g. ``--smtp-auth-accept-any``), set before start.
        self.options: list[str] = []

    def start(self, timeout: float = 30) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = (self.workdir / "mailpit.log").open("ab")
        command = (
            mailpit_command(
                f"127.0.0.1:{self.smtp_port}",
                f"127.0.0.1:{self.http_port}",
                self.workdir / "mailpit.db",
            )
            + self.options
        )
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.count()
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError("mailpit exited; see its log") from None
                time.sleep(0.2)
        raise RuntimeError(f"mailpit did not answer on {self.api_url} in {timeout} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
