"""The retention job on a real broker, with a test clock: a petition whose
``retain_names_days`` have passed since it closed loses every data key (recorded as
one erasure), and no other petition loses any (docs/privacy.md, "Retention")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.codec import codec
from streams.catalogue.store import new_petition
from streams.core.errors import KeyErased
from streams.core.logscan import scan, whole_log
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.core.topicspecs import ERASURES
from streams.rules.keys import DedupeKey
from streams.signerkeys.erasure import Eraser
from streams.signerkeys.retention import RetentionJob
from streams.signerkeys.store import SignerKeys
from streams.signerkeys.writer import KeyWriter

pytestmark = pytest.mark.integration

OPENED = datetime(2027, 1, 1, tzinfo=UTC)
CLOSED = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
#: When the 30 days after CLOSED are over.
THIRTY_DAYS_ON = datetime(2027, 3, 31, 12, 0, tzinfo=UTC)


def petition(petition_id: str, closes_at: datetime, days: int | None) -> dict[str, Any]:
    return new_petition(
        petition_id,
        petition_id,
        opens_at=OPENED,
        closes_at=closes_at,
        retain_names_days=days,
        now=OPENED,
    )


CATALOGUE = {
    "past-retention": petition("past-retention", CLOSED, 30),
    "closes-later": petition("closes-later", CLOSED + timedelta(days=60), 30),
    "no-policy": petition("no-policy", CLOSED, None),
}
SIGNERS = {
    "past-retention": ["aa" * 32, "bb" * 32],
    "closes-later": ["aa" * 32],
    "no-policy": ["aa" * 32],
}


class Run:
    """Keys for every signer of ``SIGNERS``, and a job over ``CATALOGUE``."""

    def __init__(self, settings: Settings) -> None:
        self.writer = KeyWriter(settings)
        self.made = {
            (petition_id, email_hash): self.writer.create(DedupeKey(petition_id, email_hash))
            for petition_id, hashes in SIGNERS.items()
            for email_hash in hashes
        }
        self.keys = SignerKeys(settings)
        self.keys.start()
        self.eraser = Eraser(settings, self.keys, self.writer)
        self.now = THIRTY_DAYS_ON
        self.job = RetentionJob(lambda: CATALOGUE, self.eraser, clock=lambda: self.now)

    def opens(self, petition_id: str, email_hash: str) -> bool:
        self.eraser.ensure_fresh()
        try:
            self.keys.data_key(petition_id, self.made[petition_id, email_hash].key_id)
        except KeyErased:
            return False
        return True

    def close(self) -> None:
        self.keys.stop()
        self.writer.close()


@pytest.fixture
def run(settings: Settings) -> Iterator[Run]:
    create_topics(settings)
    made = Run(settings)
    yield made
    made.close()


def test_the_plan_lists_each_petition_with_a_policy_and_its_keys(run: Run) -> None:
    planned = {p.retention.petition_id: (str(p.retention.state), p.keys) for p in run.job.plan()}
    assert planned == {"past-retention": ("due", 2), "closes-later": ("waiting", 1)}


def test_a_second_before_the_days_are_over_nothing_goes(run: Run) -> None:
    run.now = THIRTY_DAYS_ON - timedelta(seconds=1)
    assert run.job.run() == []
    assert run.opens("past-retention", "aa" * 32)


def test_once_the_days_are_over_every_key_of_that_petition_goes_and_no_other(run: Run) -> None:
    [erased] = run.job.run()
    assert len(erased.keys) == 2
    assert not run.opens("past-retention", "aa" * 32)
    assert not run.opens("past-retention", "bb" * 32)
    assert run.opens("closes-later", "aa" * 32)  # the same signer, another petition
    assert run.opens("no-policy", "aa" * 32)


def test_a_retention_run_is_recorded_as_one_erasure_with_its_reason(
    run: Run, settings: Settings
) -> None:
    [erased] = run.job.run()
    [record] = [
        codec("Erasure").decode(r.value or b"")
        for r in scan(settings, whole_log(settings, ERASURES.name))
    ]
    assert (record["erasure_id"], record["reason"], record["requested_by"]) == (
        erased.erasure_id,
        "retention",
        "retention",
    )
    assert record["petition_id"] == "past-retention"
    assert sorted(k["email_hash"] for k in record["keys"]) == SIGNERS["past-retention"]


def test_running_again_erases_nothing_more(run: Run) -> None:
    run.job.run()
    assert run.job.run() == []
    planned = {p.retention.petition_id: p.keys for p in run.job.plan()}
    assert planned == {"past-retention": 0, "closes-later": 1}
