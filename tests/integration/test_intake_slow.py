"""Slow clients (slowloris) against the real intake on loopback: connections that
trickle their head or body are closed after the configured timeouts while a normal
request still gets its 202, and past the connection cap a new one is answered 503.
Every test gives up by itself within seconds."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from streams.core.settings import Settings
from streams.demo.simulator import default_petitions
from streams.testing.processes import IntakeProcess, prepare
from tests.intake_client import post_json

pytestmark = pytest.mark.slow

GOOD = {"full_name": "Layla Haddad", "email": "layla@example.org", "country": "SY"}
SLOW_CLIENTS = 50
#: The test's timeouts (the defaults are 10 s and 30 s).
BODY_TIMEOUT, KEEPALIVE_TIMEOUT = 1.0, 1.0
#: A slow client sends one byte this often, and would go on for this long.
EVERY, GIVE_UP = 0.3, 10.0
BODY = json.dumps(GOOD).encode()


@dataclass
class Closed:
    after: float  # seconds from connecting until the intake closed the connection
    answer: bytes  # what it said before


async def slow_client(port: int, head: bytes, trickle: bytes) -> Closed:
    """Send ``head`` at once, then ``trickle`` one byte every ``EVERY`` seconds until
    the intake closes the connection (or ``GIVE_UP`` seconds pass)."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = b""

    async def read_all() -> None:
        nonlocal answer
        while chunk := await reader.read(4096):
            answer += chunk

    reading = asyncio.create_task(read_all())
    try:
        writer.write(head)
        for byte in trickle:
            if reading.done() or time.monotonic() - started > GIVE_UP:
                break
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.wait([reading], timeout=EVERY)
        await asyncio.wait_for(reading, timeout=max(0.1, GIVE_UP - (time.monotonic() - started)))
    except (ConnectionError, TimeoutError):
        pass
    finally:
        writer.close()
    closed_after = time.monotonic() - started
    return Closed(closed_after if reading.done() else float("inf"), answer)


def request_head(content_length: int) -> bytes:
    return (
        "POST /petitions/syria-icc/signatures HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        "Content-Type: application/json\r\n"
        "X-Forwarded-For: 203.0.113.66\r\n"
        f"Content-Length: {content_length}\r\n\r\n"
    ).encode()


async def slow_clients_and_one_signer(
    intake: IntakeProcess, head: bytes, trickle: bytes
) -> tuple[list[Closed], int, float]:
    """``SLOW_CLIENTS`` slow connections and, while they trickle, one normal signer:
    how each slow one ended, the signer's status and how long it waited."""
    slow = [
        asyncio.create_task(slow_client(intake.port, head, trickle)) for _ in range(SLOW_CLIENTS)
    ]
    await asyncio.sleep(2 * EVERY)  # they are all connected and trickling
    started = time.monotonic()
    signer = await asyncio.to_thread(post_json, intake.url, "syria-icc", GOOD, "198.51.100.99")
    waited = time.monotonic() - started
    return await asyncio.gather(*slow), signer.status, waited


@pytest.fixture
def impatient(settings: Settings, intake: IntakeProcess) -> IntakeProcess:
    """An intake with 1-second timeouts."""
    prepare(settings, default_petitions(datetime.now(UTC)))
    intake.extra_env |= {
        "COUNTERSIGN_INTAKE_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        "COUNTERSIGN_INTAKE_KEEPALIVE_TIMEOUT_SECONDS": str(KEEPALIVE_TIMEOUT),
    }
    intake.start(wait_for_petition="syria-icc")
    return intake


def test_bodies_trickled_a_byte_at_a_time_are_cut_off_with_408(impatient: IntakeProcess) -> None:
    head = request_head(len(BODY))
    closed, status, waited = asyncio.run(slow_clients_and_one_signer(impatient, head, BODY))
    assert status == 202 and waited < 2
    assert all(c.answer.startswith(b"HTTP/1.1 408 ") for c in closed), {c.answer for c in closed}
    assert max(c.after for c in closed) < BODY_TIMEOUT + 2
    assert impatient.alive()


def test_request_heads_trickled_a_byte_at_a_time_are_closed(impatient: IntakeProcess) -> None:
    head = request_head(len(BODY))
    closed, status, waited = asyncio.run(slow_clients_and_one_signer(impatient, b"", head))
    assert status == 202 and waited < 2
    assert all(c.answer == b"" for c in closed)  # nothing to answer: no request yet
    assert max(c.after for c in closed) < KEEPALIVE_TIMEOUT + 2
    assert impatient.alive()


async def idle_connections(port: int, count: int) -> list[asyncio.StreamWriter]:
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(count)]
    return [writer for _, writer in connections]


def test_past_the_connection_cap_a_new_connection_hears_503_until_one_closes(
    settings: Settings, intake: IntakeProcess
) -> None:
    prepare(settings, default_petitions(datetime.now(UTC)))
    intake.extra_env |= {
        "COUNTERSIGN_INTAKE_MAX_CONNECTIONS": "10",
        "COUNTERSIGN_INTAKE_KEEPALIVE_TIMEOUT_SECONDS": "2",
    }
    intake.start(wait_for_petition="syria-icc")

    async def scenario() -> tuple[int, str | None, int]:
        held = await idle_connections(intake.port, 10)
        try:
            await asyncio.sleep(0.3)
            busy = await asyncio.to_thread(post_json, intake.url, "syria-icc", GOOD)
            await asyncio.sleep(2.5)  # the idle ones are closed by the keep-alive timeout
            later = await asyncio.to_thread(post_json, intake.url, "syria-icc", GOOD)
        finally:
            for writer in held:
                writer.close()
        return busy.status, busy.retry_after, later.status

    busy, retry_after, later = asyncio.run(scenario())
    assert (busy, retry_after, later) == (503, "1", 202)
