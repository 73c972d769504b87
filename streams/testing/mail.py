"""Mailpit, the real mail server of development and tests, and its REST API.

``make install`` builds it (``.cache/bin/mailpit``); ``MailpitServer`` runs one on
free loopback ports with its own database, so each test run reads only its mail.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Self
from urllib.parse import quote

from streams.core.children import free_port

REPO = Path(__file__).resolve().parents[2]
MAILPIT = REPO / ".cache" / "bin" / "mailpit"
LINK = re.compile(r"https?://\S+/confirm/[A-Za-z0-9_.\-]+")


@dataclass(frozen=True)
class Mail:
    id: str
    to: str
    subject: str
    text: str
    headers: dict[str, list[str]]

    @property
    def link(self) -> str:
        """The confirmation link in the plain-text part."""
        match = LINK.search(self.text)
        if match is None:
            raise AssertionError(f"no confirmation link in mail {self.id}:\n{self.text}")
        return match.group(0)


class MailpitServer:
    def __init__(self, workdir: Path) -> None:
        if not MAILPIT.exists():
            raise FileNotFoundError(f"{MAILPIT} is missing: `make install` builds Mailpit")
        self.smtp_port = free_port()
        self.http_port = free_port()
        self.workdir = workdir
        self.smtp_url = f"smtp://127.0.0.1:{self.smtp_port}"
        self.api_url = f"http://127.0.0.1:{self.http_port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout: float = 30) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = (self.workdir / "mailpit.log").open("ab")
        self.process = subprocess.Popen(
            [
                str(MAILPIT),
                "--smtp", f"127.0.0.1:{self.smtp_port}",
                "--listen", f"127.0.0.1:{self.http_port}",
                "--database", str(self.workdir / "mailpit.db"),
                "--max", "0",  # keep every mail: tests count them
                "--disable-version-check",
                "--quiet",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self._get("/api/v1/messages?limit=1")
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

    # -- the REST API -------------------------------------------------------------------
    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.api_url + path, timeout=10) as response:
            return json.loads(response.read())

    def count(self) -> int:
        return int(self._get("/api/v1/messages?limit=1")["total"])

    def summaries(self, limit: int = 1000, start: int = 0) -> list[dict[str, Any]]:
        return list(self._get(f"/api/v1/messages?limit={limit}&start={start}")["messages"])

    def mail(self, message_id: str) -> Mail:
        message = self._get(f"/api/v1/message/{message_id}")
        headers = self._get(f"/api/v1/message/{message_id}/headers")
        return Mail(
            message["ID"],
            message["To"][0]["Address"],
            message["Subject"],
            message["Text"],
            headers,
        )

    def mails_to(self, address: str) -> list[Mail]:
        found = self._get(f"/api/v1/search?query=to:{quote(address)}")
        return [self.mail(summary["ID"]) for summary in found["messages"]]

    def wait_for_mail(self, address: str, count: int = 1, timeout: float = 60) -> list[Mail]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mails = self.mails_to(address)
            if len(mails) >= count:
                return mails
            time.sleep(0.3)
        raise AssertionError(f"{count} mail(s) to {address} did not arrive in {timeout} s")
