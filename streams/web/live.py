"""The dashboard's live feed: one poller per watched petition, shared by its viewers.

Each server-sent-event stream used to read the counts itself, every second: a thousand
viewers of one petition cost ClickHouse a thousand reads a second. Here the cost
follows the petitions watched, not the viewers: a petition's ``Feed`` starts with its
first viewer, reads the counts once per ``SSE_INTERVAL_SECONDS`` and the timeline on a
schedule (``TIMELINE_EVERY_SECONDS``, and once at its start), and hands what changed to
every viewer's own bounded queue. It stops ``LINGER_SECONDS`` after its last viewer
left, so a page reload does not restart it. The readings are the API's own (ClickHouse
in a thread; the timeline through the API's short-lived cache, streams/web/cache.py).

Viewers are capped twice: ``max_viewers`` in all (503: the process's sockets and loop)
and ``max_per_client`` per client network (429: one host cannot take every stream
and lock the others out).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from streams.core.errors import Backpressure, RateLimited
from streams.core.metrics import SSE_COUNT_POLLS, SSE_REFUSED, SSE_TIMELINE_POLLS, SSE_VIEWERS
from streams.web.metrics import SSE_REFUSED_PER_CLIENT

log = logging.getLogger(__name__)

#: How often a watched petition's counts are read (the dashboard's freshness).
SSE_INTERVAL_SECONDS = 1.0
#: How often its timeline is read: a minute's bar moves little within a few seconds.
TIMELINE_EVERY_SECONDS = 15.0
#: A timeline answer (the API's or the feed's) is reused this long: under the feed's
#: schedule, so each of its reads is news, and a burst of requests is one query.
TIMELINE_FRESH_SECONDS = 10.0
#: How long a feed outlives its last viewer (a reload, a reconnect).
LINGER_SECONDS = 10.0
#: Events a viewer may have waiting; a viewer slower than that gets the newest state.
QUEUE_SIZE = 8
#: A refused viewer may try again after this long.
RETRY_AFTER_SECONDS = 10.0


@dataclass(frozen=True)
class Schedule:
    """When a feed reads and when it stops (the constants above; tests shorten them)."""

    counts_every: float = SSE_INTERVAL_SECONDS
    timeline_every: float = TIMELINE_EVERY_SECONDS
    linger: float = LINGER_SECONDS


Kind = Literal["counts", "timeline"]
#: A read of one petition's counts or timeline (the JSON the API answers).
Reading = Callable[[str], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Event:
    kind: Kind
    data: str  # JSON

    @functools.cached_property
    def wire(self) -> bytes:
        """The event as sent: built once, however many viewers it goes to."""
        return f"event: {self.kind}\ndata: {self.data}\n\n".encode()


def counts_changed(before: Mapping[str, Any] | None, now: Mapping[str, Any]) -> bool:
    """Whether a viewer should hear of new counts: ``as_of`` moves on every read, so
    only the numbers decide."""
    keys = ("total", "rejected", "pending", "by_country", "pending_by_region")
    return before is None or any(before.get(k) != now.get(k) for k in keys)


class Subscription:
    """One viewer's mailbox. Offering never waits: a viewer whose queue is full loses
    its backlog and gets the newest state of each kind instead, so one slow viewer
    neither holds the poller up nor falls ever further behind."""

    def __init__(self, size: int = QUEUE_SIZE) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=size)
        #: How often this viewer's backlog was replaced by the newest state.
        self.overflows = 0

    def offer(self, event: Event, latest: Mapping[Kind, Event]) -> None:
        """``latest`` is the newest event of each kind, ``event`` among them."""
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflows += 1
            while not self.queue.empty():
                self.queue.get_nowait()
            for newest in latest.values():
                self.queue.put_nowait(newest)

    async def next(self, timeout: float) -> Event | None:
        """The next event, or None after ``timeout`` seconds without one."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


class Feed:
    """The poller of one petition and its viewers."""

    def __init__(
        self,
        petition_id: str,
        counts: Reading,
        timeline: Reading,
        schedule: Schedule,
        stop: Callable[[Feed], None],
    ) -> None:
        self.petition_id = petition_id
        self.schedule = schedule
        self.read_counts = counts
        self.read_timeline = timeline
        self.stop = stop
        self.viewers: set[Subscription] = set()
        self.latest: dict[Kind, Event] = {}
        self.last_counts: dict[str, Any] | None = None
        self.failing = False
        self.task: asyncio.Task[None] | None = None

    def join(self) -> Subscription:
        """A new viewer gets the newest state at once (if the feed has one yet)."""
        subscription = Subscription()
        for event in self.latest.values():
            subscription.offer(event, self.latest)
        self.viewers.add(subscription)
        return subscription

    def publish(self, event: Event) -> None:
        self.latest[event.kind] = event
        for subscription in self.viewers:
            subscription.offer(event, self.latest)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_timeline = loop.time()
        alone_since: float | None = None
        while True:
            started = loop.time()
            if self.viewers:
                alone_since = None
            elif alone_since is None:
                alone_since = started
            elif started - alone_since >= self.schedule.linger:
                self.stop(self)  # no await between the check and this: nobody joined
                return
            counts = await self._read(self.read_counts)
            SSE_COUNT_POLLS.inc()
            if counts is not None and counts_changed(self.last_counts, counts):
                self.last_counts = counts
                self.publish(Event("counts", json.dumps(counts)))
            if started >= next_timeline:
                next_timeline = started + self.schedule.timeline_every
                timeline = await self._read(self.read_timeline)
                SSE_TIMELINE_POLLS.inc()
                if timeline is not None:
                    event = Event("timeline", json.dumps(timeline))
                    if self.latest.get("timeline") != event:
                        self.publish(event)
            await asyncio.sleep(max(0.0, started + self.schedule.counts_every - loop.time()))

    async def _read(self, reading: Reading) -> dict[str, Any] | None:
        """A reading, or None when ClickHouse failed (logged once per outage: the
        viewers keep the last state and the feed tries again next time)."""
        try:
            answer = await reading(self.petition_id)
        except Exception:
            if not self.failing:
                log.exception("the live feed of %s cannot read ClickHouse", self.petition_id)
            self.failing = True
            return None
        if self.failing:
            log.info("the live feed of %s reads ClickHouse again", self.petition_id)
            self.failing = False
        return answer


class LiveFeeds:
    """Every feed of a serve process, and the caps on viewers across them: in all,
    and per client (``max_per_client``; None: no cap per client)."""

    def __init__(
        self,
        counts: Reading,
        timeline: Reading,
        max_viewers: int,
        schedule: Schedule = Schedule(),
        max_per_client: int | None = None,
    ) -> None:
        self.read_counts = counts
        self.schedule = schedule
        self.read_timeline = timeline
        self.max_viewers = max_viewers
        self.max_per_client = max_per_client
        self.feeds: dict[str, Feed] = {}
        self.viewers = 0
        #: Open streams per client (its network); clients with none are not kept.
        self.by_client: Counter[str | None] = Counter()
        #: Set when serve stops: the streams end instead of waiting for a cancel.
        self.closed = False
        SSE_VIEWERS.set(0)

    @contextlib.contextmanager
    def watching(self, petition_id: str, client: str | None = None) -> Iterator[Subscription]:
        """A viewer of ``petition_id`` for the ``with`` block; ``RateLimited`` when
        ``client`` (its network) holds ``max_per_client`` streams already,
        ``Backpressure`` when ``max_viewers`` are watching."""
        if self.max_per_client is not None and self.by_client[client] >= self.max_per_client:
            SSE_REFUSED_PER_CLIENT.inc()
            raise RateLimited(
                f"your network already has {self.max_per_client} live streams open here, "
                f"its limit (sse_max_per_client); close one or try again in "
                f"{RETRY_AFTER_SECONDS:.0f} s",
                RETRY_AFTER_SECONDS,
            )
        if self.viewers >= self.max_viewers:
            SSE_REFUSED.inc()
            raise Backpressure(
                f"this server already streams live counts to {self.max_viewers} viewers, "
                f"its limit (sse_max_connections); try again in "
                f"{RETRY_AFTER_SECONDS:.0f} s or read /api/petitions/{petition_id}/counts",
                RETRY_AFTER_SECONDS,
            )
        feed = self.feeds.get(petition_id)
        if feed is None:
            feed = self.feeds[petition_id] = Feed(
                petition_id, self.read_counts, self.read_timeline, self.schedule, self._stopped
            )
            feed.task = asyncio.create_task(feed.run(), name=f"live feed {petition_id}")
            feed.task.add_done_callback(functools.partial(self._ended, feed))
        subscription = feed.join()
        self._count(client, +1)
        try:
            yield subscription
        finally:
            feed.viewers.discard(subscription)
            self._count(client, -1)

    def _count(self, client: str | None, change: int) -> None:
        self.viewers += change
        SSE_VIEWERS.set(self.viewers)
        self.by_client[client] += change
        if self.by_client[client] <= 0:
            del self.by_client[client]

    def _stopped(self, feed: Feed) -> None:
        if self.feeds.get(feed.petition_id) is feed:
            del self.feeds[feed.petition_id]

    def _ended(self, feed: Feed, task: asyncio.Task[None]) -> None:
        """A feed that died of a bug is forgotten, so the next viewer starts a new one
        (its viewers keep their connection and only hear keep-alives)."""
        if not task.cancelled() and task.exception() is not None:
            log.error("the live feed of %s died", feed.petition_id, exc_info=task.exception())
        self._stopped(feed)

    async def close(self) -> None:
        self.closed = True
        tasks = [feed.task for feed in self.feeds.values() if feed.task is not None]
        self.feeds.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
