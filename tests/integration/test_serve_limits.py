"""The limits of a real ``countersign serve`` (its own chDB, the real broker): past its
connection cap a new connection hears 503, an idle keep-alive connection is closed
after the configured timeout, and one client (its network) past its cap of live
streams hears 429 while another client still gets a stream."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from streams.core.settings import Settings
from streams.demo.simulator import default_petitions
from streams.testing.processes import ServeProcess, free_port, ops_headers, prepare
from streams.testing.sse import events_url, read_events
from tests.conftest import isolated_settings
from tests.intake_client import Answer, request

PETITION = "syria-icc"
MAX_CONNECTIONS = 8
KEEPALIVE_SECONDS = 2.0
PER_CLIENT = 2


@dataclass
class Serve:
    base: str
    port: int
    settings: Settings


@pytest.fixture(scope="module")
def serve(kafka: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """One serve with small limits, behind a trusted proxy (loopback), so each test
    can say which client it is in X-Forwarded-For."""
    directory = tmp_path_factory.mktemp("serve-limits")
    settings = isolated_settings(kafka, uuid.uuid4().hex[:10], directory)
    prepare(settings, default_petitions(datetime.now(UTC)))
    port = free_port()
    with ServeProcess(settings, directory / "serve.log", port) as process:
        base = process.start_serving(
            {
                "COUNTERSIGN_SERVE_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
                "COUNTERSIGN_SERVE_KEEPALIVE_TIMEOUT_SECONDS": str(KEEPALIVE_SECONDS),
                "COUNTERSIGN_SSE_MAX_PER_CLIENT": str(PER_CLIENT),
                "COUNTERSIGN_INTAKE_TRUSTED_PROXIES": "127.0.0.1",
            }
        )
        yield Serve(base, port, settings)


def metric(serve: Serve, name: str) -> float:
    text = request(f"{serve.base}/metrics", method="GET", headers=ops_headers(serve.settings)).body
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def test_past_its_connection_cap_serve_answers_a_new_connection_503(serve: Serve) -> None:
    before = metric(serve, "countersign_serve_connections_refused_total")

    async def scenario() -> tuple[Answer, Answer]:
        held = [
            await asyncio.open_connection("127.0.0.1", serve.port) for _ in range(MAX_CONNECTIONS)
        ]
        try:
            await asyncio.sleep(0.3)
            busy = await asyncio.to_thread(request, f"{serve.base}/api/petitions", method="GET")
        finally:
            for _, writer in held:
                writer.close()
        await asyncio.sleep(0.3)  # serve has seen them close
        later = await asyncio.to_thread(request, f"{serve.base}/api/petitions", method="GET")
        return busy, later

    busy, later = asyncio.run(scenario())
    assert (busy.status, busy.retry_after) == (503, "1")
    assert busy.body == {"error": "too many connections; try again in a moment"}
    assert later.status == 200
    assert metric(serve, "countersign_serve_connections_refused_total") == before + 1


def test_an_idle_keep_alive_connection_is_closed_after_the_timeout(serve: Serve) -> None:
    async def idle_after_one_answer() -> tuple[bytes, float]:
        reader, writer = await asyncio.open_connection("127.0.0.1", serve.port)
        try:
            writer.write(b"GET /api/petitions HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            length = re.search(rb"content-length: (\d+)", head.lower())
            assert length is not None, head
            await reader.readexactly(int(length.group(1)))
            answered = time.monotonic()
            rest = await asyncio.wait_for(reader.read(), KEEPALIVE_SECONDS + 10)
            return head + rest, time.monotonic() - answered
        finally:
            writer.close()

    answer, idle = asyncio.run(idle_after_one_answer())
    assert answer.startswith(b"HTTP/1.1 200 ") and b"Connection: close" not in answer
    # Closed by serve (EOF), about the timeout after its answer: not at once, not an hour.
    assert KEEPALIVE_SECONDS - 0.5 <= idle <= KEEPALIVE_SECONDS + 3


def test_one_client_past_its_stream_cap_hears_429_while_another_still_watches(
    serve: Serve,
) -> None:
    # Three addresses of one IPv6 /64 are one client; the next /64 is another.
    one_network = ["2001:db8:5:1::1", "2001:db8:5:1::2"]
    same_network, other_network = "2001:db8:5:1:ab::3", "2001:db8:5:2::1"
    before = metric(serve, "countersign_sse_refused_per_client_total")

    async def scenario() -> tuple[int, str | None, Any, int, str]:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            url = events_url(serve.base, PETITION)
            held = []
            try:
                for ip in one_network:
                    response = await session.get(url, headers={"X-Forwarded-For": ip})
                    held.append(response)
                    assert response.status == 200
                    await asyncio.wait_for(anext(read_events(response)), 60)
                async with session.get(url, headers={"X-Forwarded-For": same_network}) as refused:
                    status, retry_after = refused.status, refused.headers.get("Retry-After")
                    body = await refused.json()
                async with session.get(url, headers={"X-Forwarded-For": other_network}) as other:
                    name, _ = await asyncio.wait_for(anext(read_events(other)), 60)
                    return status, retry_after, body, other.status, name
            finally:
                for response in held:
                    response.close()

    status, retry_after, body, other_status, first_event = asyncio.run(scenario())
    assert status == 429
    assert retry_after is not None and int(retry_after) >= 1
    assert "sse_max_per_client" in body["error"]
    assert (other_status, first_event in {"counts", "timeline"}) == (200, True)
    assert metric(serve, "countersign_sse_refused_per_client_total") == before + 1
