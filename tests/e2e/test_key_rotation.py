"""Rotating the email-hash key on a running pipeline: the worker restarts with a new
key and the old one among the previous keys; signers who signed before the rotation
are duplicates after it, the count stays exact, and reconcile agrees."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from schemas.codec import codec
from streams.catalogue.store import new_petition, publish_petition
from streams.core.children import free_port
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.rules.keys import submission_key_for
from streams.testing.dataset import Event
from streams.testing.processes import WorkerProcess, produce
from tests.intake_client import request

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PETITION = "rotated"
OLD_KEY, NEW_KEY = "o" * 40, "n" * 40


def signature(email: str, country: str) -> Event:
    record = {
        "signature_id": str(uuid.uuid4()),
        "petition_id": PETITION,
        "full_name": "Signer",
        "email": email,
        "country": country,
        "postal_code": None,
        "consent_to_publish_name": False,
        "submitted_at": datetime.now(UTC),
        "source": "web-form",
        "client_ip": None,
        "user_agent": None,
        "locale": None,
        "referrer": None,
    }
    return Event(
        submission_key_for(PETITION, email), codec("SignatureSubmitted").encode(record), ""
    )


def wait_for(worker: WorkerProcess, total: int, duplicates: int) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    shown: dict[str, Any] = {}
    while time.monotonic() < deadline:
        assert worker.alive(), worker.log_tail()
        answer = request(
            f"http://127.0.0.1:{worker.web_port}/api/petitions/{PETITION}/counts", method="GET"
        )
        shown = answer.body if answer.status == 200 else {}
        if (shown.get("total"), shown.get("rejected", {}).get("duplicate")) == (total, duplicates):
            return shown
        time.sleep(1)
    raise AssertionError(f"expected {total} signatures, {duplicates} duplicates: {shown}")


@pytest.mark.timeout(600)
def test_signers_from_before_a_key_rotation_stay_one_signer(
    settings: Settings, tmp_path: Path
) -> None:
    before = settings.model_copy(
        update={"email_hash_key": SecretStr(OLD_KEY), "email_hash_key_id": "k1"}
    )
    after = settings.model_copy(
        update={
            "email_hash_key": SecretStr(NEW_KEY),
            "email_hash_key_id": "k2",
            "email_hash_previous_keys": SecretStr(f"k1={OLD_KEY}"),
        }
    )
    create_topics(settings)
    now = datetime.now(UTC)
    publish_petition(
        settings,
        new_petition(
            PETITION, "Rotated", opens_at=now - timedelta(days=1), confirmation="none", now=now
        ),
    )
    first = [signature(f"p{n}@example.org", "FR") for n in range(200)]
    port = free_port()  # the same serve port before and after: one dashboard
    old = WorkerProcess(before, tmp_path / "before.log", port)
    with old:
        produce(settings, first)
        old.start()
        old.wait_until_serving()
        wait_for(old, 200, 0)
    again = [signature(f"P{n}@Example.org", "DE") for n in range(100)]  # the same people
    new = [signature(f"q{n}@example.org", "BR") for n in range(50)]
    rotated = WorkerProcess(after, tmp_path / "after.log", port)
    with rotated:
        produce(settings, again + new)
        rotated.start()
        rotated.wait_until_serving()
        shown = wait_for(rotated, 250, 100)
        assert shown["by_country"] == {"FR": 200, "BR": 50}
        rotated.run(["reconcile", "--settle", "60"], tmp_path / "reconcile.log")
