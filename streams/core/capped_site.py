"""At most so many open connections: past the cap, a new one hears 503 and is closed.

Shared by the intake and ``serve`` (one rule, one home: they are in the same layer
and may not import each other). A slow client (slowloris) holds a connection with one
byte every few seconds; aiohttp closes such connections after its keep-alive timeout
(no complete request head) and the intake after its body timeout, but many of them at
once would still hold a file descriptor and a handler each until then. aiohttp has no
cap on connections, so this is one: ``CappedSite`` listens like aiohttp's ``TCPSite``
(its extension point, ``BaseSite``), with a protocol factory that counts the
connections aiohttp's handlers serve and answers the rest itself, without a handler.
Each process counts its refusals in its own metric, so the cap takes an
``on_refused`` callback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from aiohttp import web

#: What a connection past the cap is told.
BUSY_BODY = json.dumps({"error": "too many connections; try again in a moment"}).encode()
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Retry-After: 1\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: " + str(len(BUSY_BODY)).encode() + b"\r\n"
    b"Connection: close\r\n\r\n" + BUSY_BODY
)
#: A refused connection that sends nothing is closed after this.
BUSY_WAIT_SECONDS = 2.0


def _ignore() -> None:
    pass


class ConnectionCap:
    """A protocol factory: aiohttp's handlers while fewer than ``limit`` connections
    are open, a ``Busy`` answer past it (``on_refused`` is called for each). ``open``
    counts the served ones."""

    def __init__(
        self,
        factory: Callable[[], asyncio.Protocol],
        limit: int,
        on_refused: Callable[[], None] = _ignore,
    ) -> None:
        self.factory = factory
        self.limit = limit
        self.on_refused = on_refused
        self.open = 0

    def __call__(self) -> asyncio.Protocol:
        if self.open >= self.limit:
            self.on_refused()
            return Busy()
        self.open += 1
        return Counted(self.factory(), self._closed)

    def _closed(self) -> None:
        self.open -= 1


class Counted(asyncio.Protocol):
    """aiohttp's handler of one connection, and the count that drops when it closes."""

    def __init__(self, inner: asyncio.Protocol, on_closed: Callable[[], None]) -> None:
        self.inner = inner
        self.on_closed: Callable[[], None] | None = on_closed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.on_closed is not None:
            self.on_closed()
            self.on_closed = None
        self.inner.connection_lost(exc)


class Busy(asyncio.Protocol):
    """A connection past the cap: 503 once the client has said something (so the
    answer is not lost to a reset), or closed after ``BUSY_WAIT_SECONDS`` of silence."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.timer = asyncio.get_running_loop().call_later(BUSY_WAIT_SECONDS, transport.close)

    def data_received(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(BUSY)
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.timer.cancel()


class CappedSite(web.BaseSite):
    """aiohttp's ``TCPSite`` with at most ``max_connections`` served at once;
    ``on_refused`` counts the connections turned away (a process's metric)."""

    __slots__ = ("_host", "_port", "cap", "max_connections", "on_refused", "reuse_port")

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        max_connections: int,
        on_refused: Callable[[], None] = _ignore,
        backlog: int = 128,
        reuse_port: bool = False,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self.reuse_port = reuse_port
        self._host = host
        self._port = port
        self.max_connections = max_connections
        self.on_refused = on_refused
        self.cap: ConnectionCap | None = None

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self.cap = ConnectionCap(server, self.max_connections, self.on_refused)
        self._server = await asyncio.get_running_loop().create_server(
            self.cap, self._host, self._port, backlog=self._backlog, reuse_port=self.reuse_port
        )
