"""Withdrawing a signature, end to end: the confirmation mail's "remove my signature"
link, its page (a GET changes nothing), the post that takes the signature out of the
count and erases the signer's keys; and the count exact through a worker SIGKILL
while withdrawals arrive."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import pytest

from schemas.codec import codec
from streams.core.links import ConfirmationClaim, withdrawal_url
from streams.core.logscan import scan, whole_log
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.rules.keys import submission_key_for
from streams.rules.placement import home_partition
from streams.testing.mail import MailpitServer
from streams.testing.processes import (
    IntakeProcess,
    MailerProcess,
    WorkerProcess,
    publish_open_petition,
)
from tests.intake_client import post_json, request

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.kills]

CONFIRMED = "withdraw-confirm"
OPEN = "withdraw-open"


def sign(
    intake: IntakeProcess, petition: str, email: str, signature_id: str, network: int = 0
) -> None:
    answer = post_json(
        intake.url,
        petition,
        {
            "signature_id": signature_id,
            "full_name": "Tomás Ortega",
            "email": email,
            "country": "CL",
            "consent_to_publish_name": True,
        },
        ip=f"10.{network}.0.7",  # a network per signer: the intake limits each
    )
    assert answer.status == 202, answer.body


def total(worker: WorkerProcess, petition: str) -> dict[str, Any]:
    answer = request(
        f"http://127.0.0.1:{worker.web_port}/api/petitions/{petition}/counts", method="GET"
    )
    assert answer.status == 200, answer.body
    return {"total": answer.body["total"], "pending": answer.body["pending"]}


def wait_for(worker: WorkerProcess, petition: str, expected: dict[str, int]) -> None:
    deadline = time.monotonic() + 120
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        seen = total(worker, petition)
        if seen == expected:
            return
        time.sleep(0.5)
    raise AssertionError(f"expected {expected}; last seen {seen}")


def started(settings: Settings, worker: WorkerProcess, intake: IntakeProcess, **env: str) -> None:
    worker.start()
    worker.wait_until_serving()
    intake.extra_env.update({"COUNTERSIGN_API_PORT": str(worker.web_port), **env})
    intake.start(wait_for_petition=OPEN)


def test_the_mailed_link_withdraws_the_signature_and_erases_the_signer(
    settings: Settings,
    worker: WorkerProcess,
    intake: IntakeProcess,
    mailpit: MailpitServer,
    tmp_path: Any,
) -> None:
    create_topics(settings)
    publish_open_petition(settings, CONFIRMED, "email")
    publish_open_petition(settings, OPEN, "none")
    started(settings, worker, intake, COUNTERSIGN_SEAL_PERSONAL_DATA="true")
    with MailerProcess(settings, tmp_path / "mailer.log", mailpit.smtp_url, intake.url) as mailer:
        mailer.start()
        sign(intake, CONFIRMED, "tomas.o@example.org", "sig-tomas")
        [mail] = mailpit.wait_for_mail("tomas.o@example.org")
        assert request(mail.link, method="GET").status == 200
        wait_for(worker, CONFIRMED, {"total": 1, "pending": 0})

        page = request(mail.withdraw_link, method="GET")
        assert page.status == 200 and "Remove your signature?" in str(page.body)
        time.sleep(2)  # a GET (a mail scanner's) changes nothing
        assert total(worker, CONFIRMED) == {"total": 1, "pending": 0}

        done = request(mail.withdraw_link, method="POST")
        assert done.status == 200 and "Your signature is removed" in str(done.body)
        wait_for(worker, CONFIRMED, {"total": 0, "pending": 0})
        again = request(mail.withdraw_link, method="POST")
        assert again.status == 200
        time.sleep(2)
        assert total(worker, CONFIRMED) == {"total": 0, "pending": 0}

    erasures = [
        codec("Erasure").decode(record.value or b"")
        for record in scan(settings, whole_log(settings, "privacy.erasures"))
    ]
    # One per post, in the order they were asked (the log's partitions are not).
    first, again_ = sorted(erasures, key=lambda erasure: erasure["requested_at"])
    assert (first["reason"], first["requested_by"], len(first["keys"])) == (
        "withdrawal",
        "signer",
        1,
    )
    assert first["keys"][0]["petition_id"] == CONFIRMED
    assert (again_["reason"], len(again_["keys"])) == ("withdrawal", 0)  # nothing left


def test_withdrawals_are_exact_through_a_worker_sigkill(
    settings: Settings, worker: WorkerProcess, intake: IntakeProcess
) -> None:
    create_topics(settings)
    publish_open_petition(settings, OPEN, "none")
    started(settings, worker, intake)
    signers = [(f"signer{n}@example.org", f"sig-{n}") for n in range(60)]
    for n, (email, signature_id) in enumerate(signers):
        sign(intake, OPEN, email, signature_id, network=n)
    wait_for(worker, OPEN, {"total": 60, "pending": 0})

    def withdraw(n: int, email: str, signature_id: str) -> None:
        # The claim the mail would carry: these addresses are their own normal form.
        digest = hmac.new(settings.hash_key, email.encode(), hashlib.sha256).hexdigest()
        home = home_partition(submission_key_for(OPEN, email), settings.topic_partitions)
        url = withdrawal_url(settings, ConfirmationClaim(OPEN, digest, signature_id, home))
        token = url.rpartition("/withdraw/")[2]
        answer = request(
            f"{intake.url}/withdraw/{token}",
            method="POST",
            headers={"X-Forwarded-For": f"10.{n}.0.9"},  # each from its signer's network
        )
        assert answer.status == 200, answer.body

    leaving = list(enumerate(signers))[::3]  # 20 of them
    for n, (email, signature_id) in leaving[:10]:
        withdraw(n, email, signature_id)
    worker.kill()  # SIGKILL, while some withdrawals may still be on their way through it
    for n, (email, signature_id) in leaving[10:]:
        withdraw(n, email, signature_id)  # the intake takes them with the worker down
    worker.start()
    wait_for(worker, OPEN, {"total": 40, "pending": 0})
    time.sleep(3)
    assert total(worker, OPEN) == {"total": 40, "pending": 0}
