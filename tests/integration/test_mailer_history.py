"""The mailer on a real broker and a real Mailpit: a resend paused before a restart
stays paused after it (the history is on ``mail.history``, not in memory), and a
request it cannot send is skipped onto ``mail.failed`` while the mail after it goes."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.codec import codec
from streams.core import kafka
from streams.core.logscan import scan, whole_log
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.core.topicspecs import MAIL_FAILED, OUTBOX
from streams.mailer.service import Mailer
from streams.mailer.smtp import SenderPool
from streams.testing.mail import MailpitServer

PETITION = "free-press"


@pytest.fixture
def mail_settings(settings: Settings) -> Settings:
    create_topics(settings)
    return settings.model_copy(update={"mail_resend_pause_seconds": 3600.0})


def request(kind: str, number: int, email: str, email_hash: str) -> dict[str, Any]:
    return {
        "request_id": f"{kind}:signatures.submitted/0/{number}#0",
        "kind": kind,
        "petition_id": PETITION,
        "email_hash": email_hash,
        "home_partition": 0,
        "signature_id": f"sig-{number}",
        "email": email,
        "full_name": "Ana",
        "locale": None,
        "requested_at": datetime.now(UTC),
    }


def put(settings: Settings, *values: bytes) -> None:
    producer = kafka.producer(settings)
    for value in values:
        producer.produce(settings.topic(OUTBOX.name), value, b"key", partition=0)
    assert producer.flush(30) == 0


def mail(kind: str, number: int, email: str, email_hash: str) -> bytes:
    return codec("ConfirmationMail").encode(request(kind, number, email, email_hash))


def run_until(
    settings: Settings, mailpit: MailpitServer, address: str, count: int, timeout: float = 60
) -> None:
    """One mailer, run until ``address`` has ``count`` mails, then stopped."""
    stop = threading.Event()
    senders = SenderPool(mailpit.smtp_url, 2)
    mailer = Mailer(settings, lambda _: "Free the press", senders)
    thread = threading.Thread(target=mailer.run, args=(stop,))
    thread.start()
    try:
        mailpit.wait_for_mail(address, count, timeout)
        time.sleep(2)  # what else the mailer would send now, it sends now
    finally:
        stop.set()
        thread.join(30)


def test_a_resend_paused_before_a_restart_stays_paused_after_it(
    mail_settings: Settings, mailpit: MailpitServer
) -> None:
    put(mail_settings, mail("first", 1, "ana@example.org", "aa" * 32))
    run_until(mail_settings, mailpit, "ana@example.org", 1)

    # A new mailer (a restart): Ana's resend is inside the pause; Bea was never mailed.
    put(
        mail_settings,
        mail("resend", 2, "ana@example.org", "aa" * 32),
        mail("resend", 3, "bea@example.org", "bb" * 32),
    )
    run_until(mail_settings, mailpit, "bea@example.org", 1)
    assert len(mailpit.mails_to("ana@example.org")) == 1


def test_requests_that_cannot_be_mailed_are_recorded_and_the_next_one_goes(
    mail_settings: Settings, mailpit: MailpitServer
) -> None:
    put(
        mail_settings,
        b"\xc3\x01 not a mail request",
        mail("first", 1, "evil+\u2028x@example.org", "ee" * 32),
        mail("first", 2, "next@example.org", "cc" * 32),
    )
    run_until(mail_settings, mailpit, "next@example.org", 1)
    failures = [
        codec("MailFailure").decode(record.value or b"")
        for record in scan(mail_settings, whole_log(mail_settings, MAIL_FAILED.name))
    ]
    assert [(f["reason"], f["outbox_offset"]) for f in failures] == [
        ("unreadable", 0),
        ("invalid_email", 1),
    ]
    assert failures[1]["email_hash"] == "ee" * 32
    assert all("evil" not in str(failure) for failure in failures)
