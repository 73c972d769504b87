"""Kept SMTP connections from ``smtp_url``: ``smtp://`` (STARTTLS when offered),
``smtps://`` (TLS from the start), optional ``user:password@``.

Credentials never cross the wire in clear: with a user set, a ``smtp://`` server
must offer STARTTLS and the TLS handshake must succeed (certificate checked) before
the login, else the mail fails with ``MailInsecure`` and nothing is sent.

The standard library's smtplib, one connection per thread of a ``SenderPool``: a
server answers each mail only after several round trips (MAIL, RCPT, DATA), which a
single connection waits out one mail at a time; a few connections wait them out
together. Threads rather than asyncio: the mailer's loop is a synchronous Kafka
consumer, and the waiting happens in socket calls, which release the GIL."""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from email.message import EmailMessage
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from streams.core.errors import ConfigurationError, MailFailed, MailInsecure, MailRefused

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
T = TypeVar("T")


class SmtpSender:
    def __init__(self, url: str, *, timeout: float = 15.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ConfigurationError(
                "COUNTERSIGN_SMTP_URL must look like smtp://host:port or smtps://host:port"
            )
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or DEFAULT_PORTS[parts.scheme]
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self._connection: smtplib.SMTP | None = None

    def __str__(self) -> str:
        """Where mail goes, never with the password."""
        return f"{'smtps' if self.tls else 'smtp'}://{self.host}:{self.port}"

    def send(self, message: EmailMessage) -> None:
        """Hand one mail to the server; ``MailFailed`` when it did not take it. A
        connection that went stale is opened again once."""
        for attempt in (1, 2):
            try:
                self._connect().send_message(message)
                return
            except MailInsecure:  # an OSError too, but no retry makes the server safer
                self.close()
                raise
            except smtplib.SMTPRecipientsRefused as exc:
                codes = sorted({code for code, _ in exc.recipients.values()})
                raise MailRefused(f"{self} refused the recipient (answers {codes})") from exc
            except smtplib.SMTPNotSupportedError as exc:
                raise MailRefused(f"{self} cannot carry this address: {exc}") from exc
            except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
                if 500 <= exc.smtp_code < 600:
                    raise MailRefused(f"{self} refused the mail ({exc.smtp_code})") from exc
                self.close()
                if attempt == 2:
                    raise MailFailed(f"{self} did not take the mail: {exc}") from exc
            except (smtplib.SMTPException, OSError) as exc:
                self.close()
                if attempt == 2:
                    raise MailFailed(f"{self} did not take the mail: {exc}") from exc

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        context = ssl.create_default_context()
        if self.tls:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            connection.ehlo()
            if connection.has_extn("starttls"):
                connection.starttls(context=context)
                connection.ehlo()
            elif self.user:
                connection.close()
                raise MailInsecure(
                    f"{self} offers no STARTTLS, and the mailer logs in only over TLS: "
                    "use a server that offers it, or smtps://"
                )
        if self.user:
            connection.login(self.user, self.password or "")
        self._connection = connection
        log.info("connected to %s", self)
        return connection

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._connection.quit()
            self._connection = None


class SenderPool:
    """``size`` threads, each with its own kept connection to the same server."""

    def __init__(self, url: str, size: int) -> None:
        self._url = url
        self._label = str(SmtpSender(url))  # checks the URL before any thread starts
        self._executor = ThreadPoolExecutor(size, thread_name_prefix="smtp")
        self._local = threading.local()
        self._senders: list[SmtpSender] = []
        self._lock = threading.Lock()
        self.size = size

    def __str__(self) -> str:
        return f"{self._label} ({self.size} connections)"

    def submit(self, work: Callable[[SmtpSender], T]) -> Future[T]:
        """Run ``work`` with the connection of whichever thread is free."""
        return self._executor.submit(lambda: work(self._sender()))

    def _sender(self) -> SmtpSender:
        sender: SmtpSender | None = getattr(self._local, "sender", None)
        if sender is None:
            sender = SmtpSender(self._url)
            self._local.sender = sender
            with self._lock:
                self._senders.append(sender)
        return sender

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        for sender in self._senders:
            sender.close()
