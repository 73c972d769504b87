"""Answers kept for a few seconds, and one reading however many ask at once.

``GET /api/petitions/{id}/timeline`` is public and a year's timeline scans a year of
ClickHouse rows: uncached, anyone could keep ClickHouse busy by asking again and
again. With ``Shared`` the same question (petition, minutes, bucket) costs one
reading per ``ttl`` whoever asks, the live feed's poller included; and questions
that arrive while it is being read wait for that reading instead of starting their
own (single flight), so a burst of identical requests is one query too.

A failed reading is not kept: the next request tries again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class Entry(Generic[V]):
    value: V
    expires: float


class Shared(Generic[K, V]):
    """``get(key)`` answers ``load(key)``, read at most once per ``ttl`` seconds (from
    when the reading started, so an answer is never older than ``ttl``) and at most
    once at a time per key. At most ``max_entries`` answers are kept (the oldest go
    first), so many different questions cannot fill the memory."""

    def __init__(
        self,
        load: Callable[[K], Awaitable[V]],
        ttl: float,
        max_entries: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.load = load
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self.entries: dict[K, Entry[V]] = {}
        self.loading: dict[K, asyncio.Task[V]] = {}

    async def get(self, key: K) -> V:
        entry = self.entries.get(key)
        if entry is not None and entry.expires > self.clock():
            return entry.value
        task = self.loading.get(key)
        if task is None:
            task = asyncio.create_task(self._read(key))
            task.add_done_callback(_retrieve)
            self.loading[key] = task
        # A caller that leaves (a client hung up) does not cancel the others' reading.
        return await asyncio.shield(task)

    async def _read(self, key: K) -> V:
        started = self.clock()
        try:
            value = await self.load(key)
        finally:
            del self.loading[key]
        self._keep(key, Entry(value, started + self.ttl))
        return value

    def _keep(self, key: K, entry: Entry[V]) -> None:
        self.entries.pop(key, None)  # re-inserted: the newest go last
        self.entries[key] = entry
        now = self.clock()
        for old in [k for k, e in self.entries.items() if e.expires <= now]:
            del self.entries[old]
        while len(self.entries) > self.max_entries:
            del self.entries[next(iter(self.entries))]


def _retrieve(task: asyncio.Task[object]) -> None:
    """A failed reading whose callers all left is not an "exception never retrieved"."""
    if not task.cancelled():
        task.exception()
