"""The seed campaign's profile with confirmation on: 80 % of the signers follow their
link. The count equals the confirmed truth exactly through a worker SIGKILL and a
mailer SIGKILL; every signer got their mail; copies stay within the mailer's batch.

The truth is the simulator's (who signed, with which mailbox and country) and the
share of signers who follow (``streams.demo.mailbox.follows``, by mailbox): computed
without the pipeline. Mails are counted in Mailpit, the real server they went to.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from schemas.codec import codec
from streams.core.logscan import scan, whole_log
from streams.core.settings import Settings
from streams.core.topicspecs import OUTBOX
from streams.demo.campaign import SEED_PETITION
from streams.demo.mailbox import LinkFollower, follows, mailbox_of, request_of
from streams.testing.mail import MailpitServer
from streams.testing.processes import IntakeProcess, MailerProcess, WorkerProcess, run_command
from tests.intake_client import request
from tests.topic_dump import dump_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.kills]

SIGNERS = 3_000
SHARE = 0.8
MAILER_BATCH = 20
#: The worker's own topics, dumped too when the counts do not settle.
INTERNAL_TOPICS = ("countersign-dedupe-winners-v3-changelog", "countersign-partial-counts")


def counts(worker: WorkerProcess) -> dict[str, Any]:
    answer = request(
        f"http://127.0.0.1:{worker.web_port}/api/petitions/{SEED_PETITION}/counts", method="GET"
    )
    return dict(answer.body) if answer.status == 200 else {}


def wait_until(condition: Any, what: str, timeout: float, *processes: Any) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            assert process.alive(), process.log_tail()
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.timeout(900)
def test_confirmed_counts_are_exact_through_worker_and_mailer_kills(  # noqa: PLR0915
    settings: Settings,
    worker: WorkerProcess,
    intake: IntakeProcess,
    mailpit: MailpitServer,
    tmp_path: Path,
) -> None:
    worker.start()
    worker.wait_until_serving()
    intake.extra_env["COUNTERSIGN_API_PORT"] = str(worker.web_port)
    intake.start()
    mailer = MailerProcess(settings, tmp_path / "mailer.log", mailpit.smtp_url, intake.url)
    mailer.extra_env["COUNTERSIGN_MAILER_BATCH"] = str(MAILER_BATCH)
    follower = LinkFollower(mailpit, SHARE)
    stop = threading.Event()

    def read_mail() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):  # Mailpit busy: the next round reads it
                follower.run_once()
            stop.wait(0.5)

    truth_file = tmp_path / "truth.json"
    reader = threading.Thread(target=read_mail, daemon=True)
    with mailer:
        mailer.start()
        reader.start()
        try:
            run_command(
                settings,
                ["simulate", "--profile", "seed-campaign", "--via", "kafka",
                 "--signatures", str(SIGNERS), "--confirmation", "email",
                 "--truth", str(truth_file)],
                tmp_path / "simulate.log",
            )  # fmt: skip
            # A third of the signers mailed: the worker dies mid-stream, and comes back.
            wait_until(lambda: mailpit.count() > SIGNERS // 3, "mails", 300, worker, mailer)
            worker.kill()
            worker.start()
            # Half of them mailed: the mailer dies mid-batch, and comes back.
            wait_until(lambda: mailpit.count() > SIGNERS // 2, "mails", 300, worker, mailer)
            mailer.kill()
            mailer.start()

            truth = json.loads(truth_file.read_text())["petitions"][SEED_PETITION]
            signers: dict[str, str] = truth["signers"]
            confirming = {m: c for m, c in signers.items() if follows(m, SHARE)}
            expected_by_country = dict(Counter(confirming.values()))
            expected_pending = len(signers) - len(confirming)

            def settled() -> bool:
                shown = counts(worker)
                return (shown.get("total"), shown.get("pending")) == (
                    len(confirming),
                    expected_pending,
                )

            try:
                wait_until(settled, "the confirmed counts", 300, worker, mailer)
            except AssertionError:
                # Kept for whoever reads the failure: the topics go when the test ends.
                dump_topics(settings, tmp_path, INTERNAL_TOPICS)
                print(f"counts {counts(worker)}; topics dumped to {tmp_path / 'topics'}")
                raise
            time.sleep(5)  # anything counted twice would show now
            shown = counts(worker)
        finally:
            stop.set()
            reader.join(10)

    assert len(signers) == SIGNERS
    assert shown["total"] == len(confirming)
    assert shown["by_country"] == expected_by_country
    assert shown["pending"] == expected_pending

    # A re-sign is a duplicate once its signer confirmed, else a resend of the mail.
    outbox = [
        codec("ConfirmationMail").decode(record.value or b"")
        for record in scan(settings, whole_log(settings, OUTBOX.name))
    ]
    resends = {r["request_id"] for r in outbox if r["kind"] == "resend"}
    rejected = {k: v for k, v in shown["rejected"].items() if v}
    assert rejected.get("duplicate", 0) + len(resends) == truth["rejected"]["duplicate"]
    others = {k: v for k, v in truth["rejected"].items() if k != "duplicate"}
    assert {k: v for k, v in rejected.items() if k != "duplicate"} == others

    # No mail lost: every signer got the mail of their signature.
    mails = mailpit.all_summaries()
    firsts = [m for m in mails if request_of(m["MessageID"]).startswith("first-")]
    assert {mailbox_of(m["To"][0]["Address"]) for m in firsts} == set(signers)
    # Copies: the mailer's kill may send its unfinished batch again; nothing else may.
    copies = sum(n - 1 for n in Counter(request_of(m["MessageID"]) for m in mails).values())
    print(f"mails {len(mails)}, first mails {len(firsts)}, copies {copies}")
    assert copies <= MAILER_BATCH

    # The audit: the log recounted (confirmations included) agrees with every number.
    audit = worker.run(["reconcile", "--settle", "60"], tmp_path / "reconcile.log", expect=None)
    assert audit.returncode == 0, audit.stdout[-3000:]
    # The whole log replayed, confirmations too, into its own namespace: the same counts.
    replayed = worker.run(
        ["replay", "--from", "0", "--into", "confirmed"], tmp_path / "replay.log", expect=None
    )
    assert replayed.returncode == 0, replayed.stdout[-3000:]
