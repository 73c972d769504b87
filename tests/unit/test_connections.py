"""The connection cap counts the connections it serves and refuses past its limit."""

from __future__ import annotations

import asyncio

from streams.core.capped_site import Busy, ConnectionCap, Counted


class Handler(asyncio.Protocol):
    """Stands in for aiohttp's handler: remembers what the connection did."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def data_received(self, data: bytes) -> None:
        self.events.append(f"data {data!r}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append("lost")


def test_connections_under_the_cap_are_served_by_the_handler() -> None:
    cap = ConnectionCap(Handler, limit=2)
    first = cap()
    assert isinstance(first, Counted) and isinstance(first.inner, Handler)
    first.data_received(b"GET / HTTP/1.1\r\n")
    assert first.inner.events == ["data b'GET / HTTP/1.1\\r\\n'"]
    assert cap.open == 1


def test_past_the_cap_a_connection_is_answered_busy() -> None:
    cap = ConnectionCap(Handler, limit=2)
    cap(), cap()
    assert isinstance(cap(), Busy)
    assert cap.open == 2


def test_a_closed_connection_frees_its_place_once() -> None:
    cap = ConnectionCap(Handler, limit=1)
    served = cap()
    served.connection_lost(None)
    served.connection_lost(None)
    assert cap.open == 0
    assert isinstance(cap(), Counted)


def test_each_refused_connection_is_reported_to_the_process() -> None:
    refused: list[None] = []
    cap = ConnectionCap(Handler, limit=1, on_refused=lambda: refused.append(None))
    cap(), cap(), cap()
    assert len(refused) == 2
