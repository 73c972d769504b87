"""The mailer's SMTP connections, against a real Mailpit: a pool of them delivers every
mail handed to it exactly once, and a bad server address is refused before any
thread starts."""

from __future__ import annotations

from collections import Counter
from email.message import EmailMessage
from pathlib import Path

import pytest

from streams.core.errors import ConfigurationError, MailInsecure
from streams.mailer.smtp import SenderPool, SmtpSender
from streams.testing.mail import MailpitServer


def mail(number: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "no-reply@countersign.localhost"
    message["To"] = f"signer{number}@example.org"
    message["Subject"] = f"mail {number}"
    message.set_content(f"mail number {number}")
    return message


def test_a_pool_of_connections_delivers_every_mail_exactly_once(tmp_path: Path) -> None:
    with MailpitServer(tmp_path).start() as mailpit:
        pool = SenderPool(mailpit.smtp_url, size=4)
        try:
            deliveries = [pool.submit(lambda sender, n=n: sender.send(mail(n))) for n in range(60)]
            for delivery in deliveries:
                delivery.result()
        finally:
            pool.close()
        subjects = Counter(summary["Subject"] for summary in mailpit.all_summaries())
    assert subjects == Counter(f"mail {n}" for n in range(60))


def test_a_url_that_is_not_smtp_is_refused_when_the_pool_is_made() -> None:
    with pytest.raises(ConfigurationError, match="smtp://host:port"):
        SenderPool("http://127.0.0.1:1025", size=2)


def test_the_server_is_named_in_logs_without_its_password() -> None:
    pool = SenderPool("smtps://user:secret@mail.example:2465", size=2)
    try:
        assert str(pool) == "smtps://mail.example:2465 (2 connections)"
    finally:
        pool.close()


def test_credentials_are_never_sent_to_a_server_without_tls(tmp_path: Path) -> None:
    # Mailpit would take any login in clear here; the sender must refuse to give one.
    server = MailpitServer(tmp_path)
    server.options = ["--smtp-auth-accept-any", "--smtp-auth-allow-insecure"]
    with server.start() as mailpit:
        address = mailpit.smtp_url.replace("smtp://", "smtp://user:s3cret@")
        sender = SmtpSender(address)
        with pytest.raises(MailInsecure, match="offers no STARTTLS") as refused:
            sender.send(mail(1))
        assert "s3cret" not in str(refused.value)
        assert mailpit.count() == 0


def test_without_credentials_a_server_without_tls_still_gets_the_mail(tmp_path: Path) -> None:
    server = MailpitServer(tmp_path)
    server.options = ["--smtp-auth-accept-any", "--smtp-auth-allow-insecure"]
    with server.start() as mailpit:
        SmtpSender(mailpit.smtp_url).send(mail(2))
        assert mailpit.count() == 1
