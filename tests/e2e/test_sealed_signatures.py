"""Sealed personal data, end to end (docs/privacy.md): the real intake seals, the worker
counts without opening, the mailer opens the address to ask for confirmation, and the
signer's name and email are in no topic in clear. A clear record of the same signer
from an older producer is a duplicate of the sealed one: same dedupe key."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.codec import codec
from streams.core import kafka
from streams.core.logscan import scan, whole_log
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.core.topicspecs import SUBMITTED
from streams.rules.keys import submission_key_for
from streams.testing.mail import MailpitServer
from streams.testing.processes import (
    IntakeProcess,
    MailerProcess,
    WorkerProcess,
    publish_open_petition,
)
from tests.intake_client import post_json, request
from tests.privacy_scan import (
    clickhouse_rows_holding,
    files_holding,
    segments_holding,
    topic_records_holding,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONFIRMED = "sealed-confirm"
OPEN = "sealed-open"
NAME = "Ingrid Sørensen-Qvist"
#: The last octet of each signer's client address (a random one may repeat).
ADDRESSES = itertools.count(1)
EMAIL = "Ingrid.SQ+petitions@example.org"


def sign(intake: IntakeProcess, petition: str, email: str, name: str = NAME) -> None:
    answer = post_json(
        intake.url,
        petition,
        {
            "signature_id": str(uuid.uuid4()),
            "full_name": name,
            "email": email,
            "country": "NO",
            "consent_to_publish_name": True,
        },
        ip=f"198.51.100.{next(ADDRESSES)}",  # one per signer: the intake limits each
    )
    assert answer.status == 202, answer.body


def counts(worker: WorkerProcess, petition: str) -> dict[str, Any]:
    answer = request(
        f"http://127.0.0.1:{worker.web_port}/api/petitions/{petition}/counts", method="GET"
    )
    assert answer.status == 200, answer.body
    return dict(answer.body)


def wait_for(worker: WorkerProcess, petition: str, **expected: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        seen = counts(worker, petition)
        if all(seen.get(k) == v for k, v in expected.items()):
            return seen
        time.sleep(0.5)
    raise AssertionError(f"expected {expected}; last seen {seen}")


def publish_clear(settings: Settings, petition: str, email: str) -> None:
    """A clear submission (SignatureSubmitted v2), as an older producer writes it."""
    record = {
        "signature_id": str(uuid.uuid4()),
        "petition_id": petition,
        "full_name": "I. Sorensen",
        "email": email,
        "country": "NO",
        "postal_code": None,
        "consent_to_publish_name": True,
        "submitted_at": datetime.now(UTC),
        "source": "api",
        "client_ip": None,
        "user_agent": None,
        "locale": None,
        "referrer": None,
    }
    producer = kafka.producer(settings)
    producer.produce(
        settings.topic(SUBMITTED.name),
        codec("SignatureSubmitted").encode(record, writer_version=2),
        submission_key_for(petition, email),
    )
    assert producer.flush(30) == 0


def test_a_sealed_signer_is_mailed_counted_once_and_never_in_clear_on_kafka(
    settings: Settings,
    worker: WorkerProcess,
    intake: IntakeProcess,
    mailpit: MailpitServer,
    tmp_path: Any,
) -> None:
    create_topics(settings)
    publish_open_petition(settings, CONFIRMED, "email")
    publish_open_petition(settings, OPEN, "none")
    worker.start()
    worker.wait_until_serving()
    intake.extra_env["COUNTERSIGN_SEAL_PERSONAL_DATA"] = "true"
    intake.extra_env["COUNTERSIGN_API_PORT"] = str(worker.web_port)
    intake.start(wait_for_petition=OPEN)
    with MailerProcess(settings, tmp_path / "mailer.log", mailpit.smtp_url, intake.url) as mailer:
        mailer.start()

        sign(intake, CONFIRMED, EMAIL)
        [mail] = mailpit.wait_for_mail(EMAIL)  # the mailer opened the sealed address
        assert f"{NAME}" in mail.text
        wait_for(worker, CONFIRMED, total=0, pending=1)
        assert request(mail.link, method="GET").status == 200
        wait_for(worker, CONFIRMED, total=1, pending=0)

        sign(intake, OPEN, EMAIL)
        sign(intake, OPEN, "ingrid.sq@EXAMPLE.org", name="I. S.-Q.")  # the same address
        publish_clear(settings, OPEN, "ingrid.sq+older-producer@example.org")  # and again
        sign(intake, OPEN, "someone.else@example.org")
        seen = wait_for(worker, OPEN, total=2)
        time.sleep(3)  # a duplicate counted late would show now
        assert counts(worker, OPEN)["total"] == 2
        rejected = {reason: n for reason, n in seen["rejected"].items() if n}
        assert rejected == {"duplicate": 2}

    # (The older producer's clear record spells neither the way the needles do.)
    needles = [EMAIL.encode(), EMAIL.lower().encode(), NAME.encode(), b"ingrid.sq@"]
    assert topic_records_holding(settings, needles) == []
    # The mailer opened the address to send the mail, and logged it only redacted.
    logs = {path.name: path.read_bytes() for path in tmp_path.glob("*.log")}
    assert {"mailer.log", "intake.log", "worker.log"} <= set(logs)
    assert [name for name, text in logs.items() if any(n in text for n in needles)] == []


def test_an_erased_signer_still_counts_and_their_data_is_in_no_file_topic_or_table(
    settings: Settings, worker: WorkerProcess, intake: IntakeProcess, tmp_path: Path
) -> None:
    """Issue 27's proof: a known signer signs 3 petitions and is erased; then their
    email and name are nowhere (every topic, the brokers' files, every ClickHouse
    table, every file of the run: RocksDB, chDB, exports, logs), the counts did not
    move, reconcile agrees, a replay equals the live counts, and the export leaves
    them out and verifies."""
    create_topics(settings)
    petitions = ["erase-a", "erase-b", "erase-c"]
    for petition in petitions:
        publish_open_petition(settings, petition, "none")
    worker.start()
    worker.wait_until_serving()
    intake.extra_env["COUNTERSIGN_SEAL_PERSONAL_DATA"] = "true"
    intake.extra_env["COUNTERSIGN_API_PORT"] = str(worker.web_port)
    intake.start(wait_for_petition=petitions[-1])
    for petition in petitions:
        sign(intake, petition, EMAIL)
    sign(intake, "erase-a", "amara.okafor@example.org", name="Amara Okafor")
    for petition, total in (("erase-a", 2), ("erase-b", 1), ("erase-c", 1)):
        wait_for(worker, petition, total=total)
    before = {petition: counts(worker, petition) for petition in petitions}

    listed = tmp_path / "before.csv"
    worker.run(
        ["export", "erase-a", "--format", "csv", "--output", str(listed)], tmp_path / "e1.log"
    )
    assert NAME in listed.read_text()  # opened with the signer's key
    listed.unlink()  # a list taken before the erasure is the campaign's to destroy

    erased = worker.run(["erase", "--email", EMAIL, "--reason", "asked"], tmp_path / "erase.log")
    assert "erased 3 keys of erase-a, erase-b, erase-c" in erased.stdout

    time.sleep(3)  # a count that moved would show by now
    after = {petition: counts(worker, petition) for petition in petitions}
    for petition in petitions:
        assert (after[petition]["total"], after[petition]["by_country"]) == (
            before[petition]["total"],
            before[petition]["by_country"],
        )
    pdf = tmp_path / "after.pdf"
    exported = worker.run(["export", "erase-a", "--output", str(pdf)], tmp_path / "e2.log")
    assert "left out: 1 names erased" in exported.stdout
    again = tmp_path / "after.csv"
    worker.run(
        ["export", "erase-a", "--format", "csv", "--output", str(again)], tmp_path / "e3.log"
    )
    assert NAME not in again.read_text() and "Amara Okafor" in again.read_text()
    worker.run(["verify-export", str(pdf)], tmp_path / "verify.log")
    worker.run(["reconcile", "--settle", "10"], tmp_path / "reconcile.log")
    replayed = worker.run(
        ["replay", "--from", "0", "--into", "after-erasure", "--format", "json"],
        tmp_path / "replay.log",
    )
    assert all(p["agrees"] for p in json.loads(replayed.stdout)["petitions"])

    [erasure] = [
        codec("Erasure").decode(record.value or b"")
        for record in scan(settings, whole_log(settings, "privacy.erasures"))
    ]
    assert (erasure["reason"], erasure["detail"], len(erasure["keys"])) == ("request", "asked", 3)
    assert "ingrid" not in str(erasure).lower()  # who and which keys, never the address

    worker.stop()
    intake.stop()
    texts = [EMAIL, EMAIL.lower(), NAME]
    needles = [text.encode() for text in texts]
    assert topic_records_holding(settings, needles) == []
    assert segments_holding(settings, needles)[1] == []
    assert clickhouse_rows_holding(settings, texts)["found"] == []
    assert files_holding([tmp_path], needles)[1] == []
    # What was scanned: the worker's RocksDB, chDB's files, the exports, the logs.
    assert {"worker.log", "after.pdf", "after.csv"} <= {p.name for p in tmp_path.rglob("*")}
    assert any(tmp_path.rglob("*.sst"))
    # And each scan finds what is there: a petition id everywhere, a listed name in
    # both exports (the PDF draws it as glyphs: read as text).
    assert topic_records_holding(settings, [b"erase-b"]) != []
    assert segments_holding(settings, [b"erase-b"])[1] != []
    assert clickhouse_rows_holding(settings, ["erase-b"])["found"] != []
    listing = files_holding([tmp_path], [b"Amara Okafor"])[1]
    assert {Path(found.split(": ")[0]).name for found in listing} == {"after.pdf", "after.csv"}
