"""``/confirm/{token}`` is public and each new claim costs serve a query and Kafka a
record kept forever: a client may follow only so many links, and when serve cannot
say whether a signer confirmed already, nothing is published (a confirmation already
on Kafka is never published twice)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.core.children import free_port
from streams.core.links import ConfirmationClaim, confirmation_token
from streams.core.logscan import scan, whole_log
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.core.topicspecs import CONFIRMATIONS
from streams.testing.processes import IntakeProcess
from tests.intake_client import request


@pytest.fixture
def lone_intake(settings: Settings, tmp_path: Path) -> Iterator[IntakeProcess]:
    """An intake whose serve is nowhere (its API port has no listener), allowing
    3 confirmation links a minute per client."""
    create_topics(settings)
    with IntakeProcess(settings, tmp_path / "intake.log", free_port()) as intake:
        intake.extra_env["COUNTERSIGN_API_PORT"] = str(free_port())
        intake.extra_env["COUNTERSIGN_INTAKE_CONFIRM_RATE_LIMITS"] = "3/60"
        intake.start()
        yield intake


def follow(intake: IntakeProcess, token: str, ip: str) -> tuple[int, dict[str, str]]:
    answer = request(f"{intake.url}/confirm/{token}", method="GET", headers={"X-Forwarded-For": ip})
    return answer.status, answer.headers


def test_a_client_past_its_confirm_limit_is_told_to_wait(lone_intake: IntakeProcess) -> None:
    statuses = [follow(lone_intake, "not-a-token", "198.51.100.7")[0] for _ in range(4)]
    assert statuses == [400, 400, 400, 429]
    status, headers = follow(lone_intake, "not-a-token", "198.51.100.7")
    assert status == 429
    assert int(headers["Retry-After"]) > 0
    assert follow(lone_intake, "not-a-token", "198.51.100.8")[0] == 400  # another client


def test_when_serve_cannot_say_nothing_is_published(
    lone_intake: IntakeProcess, settings: Settings
) -> None:
    token = confirmation_token(settings, ConfirmationClaim("free-press", "ab" * 32, "sig-1", 0))
    status, headers = follow(lone_intake, token, "198.51.100.9")
    assert status == 503
    assert int(headers["Retry-After"]) >= 1
    assert list(scan(settings, whole_log(settings, CONFIRMATIONS.name))) == []
