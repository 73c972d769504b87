"""Confirmed signatures, end to end: the real intake, worker, serve, mailer and Mailpit.

A signature of a petition that asks for confirmation is pending until its signer
follows the link mailed to them; then it counts, once. Signing again while pending
sends the mail again; the same link twice says so; an expired link says so.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from schemas.codec import codec
from streams.catalogue.store import new_petition, publish_petition
from streams.core import kafka
from streams.core.links import CONFIRM_SALT
from streams.core.logscan import scan, whole_log
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.core.topicspecs import CONFIRMATIONS, MAIL_FAILED, OUTBOX
from streams.testing.mail import MailpitServer
from streams.testing.processes import IntakeProcess, MailerProcess, WorkerProcess
from tests.intake_client import post_json, request

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PETITION = "confirm-me"
#: Each signer's client address comes from here: a random one may repeat, and the
#: intake limits each address.
ADDRESSES = itertools.count(1)


def client_address() -> str:
    n = next(ADDRESSES)
    return f"198.51.{n // 250}.{n % 250 + 1}"


@pytest.fixture
def mailer(
    settings: Settings, intake: IntakeProcess, mailpit: MailpitServer, tmp_path: Path
) -> Iterator[MailerProcess]:
    """The mailer, started by ``pipeline`` once the intake is up."""
    process = MailerProcess(settings, tmp_path / "mailer.log", mailpit.smtp_url, intake.url)
    process.extra_env["COUNTERSIGN_MAIL_RESEND_PAUSE_SECONDS"] = "0"
    with process:
        yield process


@pytest.fixture
def pipeline(
    settings: Settings,
    worker: WorkerProcess,
    intake: IntakeProcess,
    mailer: MailerProcess,
) -> tuple[WorkerProcess, IntakeProcess]:
    create_topics(settings)
    now = datetime.now(UTC)
    publish_petition(
        settings,
        new_petition(PETITION, "Free the press", opens_at=now - timedelta(days=1), now=now),
    )
    worker.start()
    worker.wait_until_serving()
    intake.extra_env["COUNTERSIGN_API_PORT"] = str(worker.web_port)
    intake.start(wait_for_petition=PETITION)
    mailer.start()
    return worker, intake


def sign(intake: IntakeProcess, email: str, **fields: Any) -> None:
    answer = post_json(
        intake.url,
        PETITION,
        {
            "signature_id": str(uuid.uuid4()),
            "full_name": "Layla Haddad",
            "email": email,
            "country": "SY",
            "consent_to_publish_name": True,
            **fields,
        },
        ip=client_address(),
    )
    assert answer.status == 202, answer.body


def counts(worker: WorkerProcess) -> dict[str, Any]:
    answer = request(
        f"http://127.0.0.1:{worker.web_port}/api/petitions/{PETITION}/counts", method="GET"
    )
    assert answer.status == 200, answer.body
    return dict(answer.body)


def wait_for_counts(worker: WorkerProcess, total: int, pending: int) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        seen = counts(worker)
        if (seen["total"], seen["pending"]) == (total, pending):
            return seen
        time.sleep(0.5)
    raise AssertionError(f"expected total {total}, pending {pending}; last seen {seen}")


def follow(link: str) -> tuple[int, str]:
    answer = request(link, method="GET")
    return answer.status, str(answer.body)


def test_a_signature_counts_once_its_signer_follows_the_mailed_link(
    pipeline: tuple[WorkerProcess, IntakeProcess], mailpit: MailpitServer
) -> None:
    worker, intake = pipeline
    sign(intake, "Layla.H@example.org", locale="fr-FR")
    [mail] = mailpit.wait_for_mail("Layla.H@example.org")
    assert mail.subject == "Confirmez votre signature : Free the press"
    assert "Bonjour Layla Haddad" in mail.text
    assert wait_for_counts(worker, total=0, pending=1)["by_region"] == {}

    status, page = follow(mail.link)
    assert status == 200 and "your signature is confirmed" in page

    after = wait_for_counts(worker, total=1, pending=0)
    assert after["by_country"] == {"SY": 1}


def test_the_same_link_again_says_it_was_confirmed_already_and_counts_nothing(
    pipeline: tuple[WorkerProcess, IntakeProcess], mailpit: MailpitServer
) -> None:
    worker, intake = pipeline
    sign(intake, "twice@example.org")
    [mail] = mailpit.wait_for_mail("twice@example.org")
    assert follow(mail.link)[0] == 200
    wait_for_counts(worker, total=1, pending=0)
    deadline = time.monotonic() + 30
    page = ""
    while time.monotonic() < deadline and "already confirmed" not in page:
        status, page = follow(mail.link)  # until serve has the first confirmation
        assert status == 200
        time.sleep(0.5)
    assert "You have already confirmed" in page
    assert wait_for_counts(worker, total=1, pending=0)["total"] == 1


def test_a_link_followed_many_times_at_once_is_published_once(
    pipeline: tuple[WorkerProcess, IntakeProcess], settings: Settings, mailpit: MailpitServer
) -> None:
    worker, intake = pipeline
    sign(intake, "eager@example.org")
    [mail] = mailpit.wait_for_mail("eager@example.org")
    # One signer clicking away: 9 follows stay within the per-client limit (10/60).
    with ThreadPoolExecutor(6) as clicks:
        statuses = list(clicks.map(lambda _: follow(mail.link)[0], range(6)))
    assert statuses == [200] * 6
    wait_for_counts(worker, total=1, pending=0)
    for _ in range(3):  # and again, one by one: answered from memory
        assert follow(mail.link)[0] == 200
    confirmations = list(scan(settings, whole_log(settings, CONFIRMATIONS.name)))
    assert len(confirmations) == 1


def test_signing_again_while_pending_sends_the_mail_again_instead_of_a_duplicate(
    pipeline: tuple[WorkerProcess, IntakeProcess], mailpit: MailpitServer
) -> None:
    worker, intake = pipeline
    sign(intake, "again@example.org")
    mailpit.wait_for_mail("again@example.org")
    sign(intake, "Again@Example.org")  # another spelling of the same address
    second = mailpit.wait_for_mail("Again@Example.org")
    assert len(second) == 1
    shown = wait_for_counts(worker, total=0, pending=1)
    assert shown["rejected"]["duplicate"] == 0
    assert follow(second[0].link)[0] == 200
    assert wait_for_counts(worker, total=1, pending=0)["rejected"]["duplicate"] == 0


def test_an_expired_link_says_so_and_counts_nothing(
    pipeline: tuple[WorkerProcess, IntakeProcess], settings: Settings, mailpit: MailpitServer
) -> None:
    worker, intake = pipeline
    sign(intake, "late@example.org")
    [mail] = mailpit.wait_for_mail("late@example.org")
    token = mail.link.rsplit("/", 1)[1]
    key = settings.signing_key.get_secret_value()
    payload = URLSafeTimedSerializer(key, salt=CONFIRM_SALT).loads(token)
    eight_days = int(time.time()) - 8 * 24 * 3600

    class EightDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return eight_days

    old = URLSafeTimedSerializer(key, salt=CONFIRM_SALT, signer=EightDaysAgo).dumps(payload)
    status, page = follow(f"{intake.url}/confirm/{old}")
    assert status == 410 and "This link has expired" in page
    status, page = follow(f"{intake.url}/confirm/{token[:-3]}xyz")
    assert status == 400 and "This link does not work" in page
    time.sleep(2)
    assert wait_for_counts(worker, total=0, pending=1)["total"] == 0


#: Addresses with a line break, a control or a separator hidden in the tag or the
#: local part: each once passed the email rule and crashed the mailer at ``To``.
POISON_ADDRESSES = [
    "evil+\u2028x@example.org",
    "evil+\u2029x@example.org",
    "evil+\nBcc: victim@example.org",
    "evil+\rx@example.org",
    "evil+\x0bx@example.org",
    "evil+\x1cx@example.org",
    "ev\x85il@example.org",
]


def test_a_poison_address_is_refused_and_a_poison_mail_request_is_skipped(
    pipeline: tuple[WorkerProcess, IntakeProcess],
    settings: Settings,
    mailer: MailerProcess,
    mailpit: MailpitServer,
) -> None:
    worker, intake = pipeline
    for address in POISON_ADDRESSES:
        answer = post_json(
            intake.url,
            PETITION,
            {"full_name": "Eve", "email": address, "country": "FR"},
            ip=client_address(),
        )
        assert answer.status == 400, (address, answer.body)
        assert "email" in answer.body["errors"], answer.body

    # Records no intake would take, written straight into the outbox: one the email
    # rule refuses, one that is not a ConfirmationMail at all.
    outbox = settings.topic(OUTBOX.name)
    poison = codec("ConfirmationMail").encode(
        {
            "request_id": "first:poison/0/0#0",
            "kind": "first",
            "petition_id": PETITION,
            "email_hash": "ee" * 32,
            "home_partition": 0,
            "signature_id": "poison-1",
            "email": "evil+\u2028x@example.org",
            "full_name": "Eve",
            "locale": None,
            "requested_at": datetime.now(UTC),
        }
    )
    producer = kafka.producer(settings)
    for value in (poison, b"not a mail request"):
        producer.produce(outbox, value, f"{PETITION}:{'ee' * 32}".encode(), partition=0)
    assert producer.flush(30) == 0

    sign(intake, "next.signer@example.org")
    [mail] = mailpit.wait_for_mail("next.signer@example.org")
    assert mail.link

    failures = [
        codec("MailFailure").decode(record.value or b"")
        for record in scan(settings, whole_log(settings, MAIL_FAILED.name))
    ]
    assert sorted(f["reason"] for f in failures) == ["invalid_email", "unreadable"]
    assert all("evil" not in str(failure) for failure in failures)
    assert "evil" not in mailer.log_tail(500)
    assert mailer.alive() and worker.alive() and intake.alive()
    assert request(f"{intake.url}/healthz", method="GET").status == 200
