"""The live feed (streams/web/live.py) with readings that stand in for ClickHouse: what
a viewer's mailbox holds, which counts are news, one feed per petition and the cap."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from streams.core.errors import Backpressure, RateLimited
from streams.web.cache import Shared
from streams.web.live import Event, Kind, LiveFeeds, Schedule, Subscription, counts_changed


def counts(total: int, **changes: object) -> dict[str, object]:
    return {
        "petition_id": "p",
        "total": total,
        "by_country": {"FR": total},
        "rejected": {"duplicate": 0},
        "pending": 0,
        "as_of": "2026-12-01T00:00:00.000+00:00",
    } | changes


def drain(subscription: Subscription) -> list[Event]:
    events = []
    while not subscription.queue.empty():
        events.append(subscription.queue.get_nowait())
    return events


def test_a_viewer_who_keeps_up_gets_every_event_in_order() -> None:
    subscription = Subscription(size=4)
    latest: dict[Kind, Event] = {}
    sent = [Event("counts", json.dumps(counts(n))) for n in range(3)]
    for event in sent:
        latest["counts"] = event
        subscription.offer(event, latest)
    assert drain(subscription) == sent


def test_a_viewer_too_slow_for_its_queue_loses_its_backlog_never_the_newest_state() -> None:
    subscription = Subscription(size=3)
    latest: dict[Kind, Event] = {}
    timeline = Event("timeline", '{"points": []}')
    latest["timeline"] = timeline
    subscription.offer(timeline, latest)
    for n in range(10):
        event = Event("counts", json.dumps(counts(n)))
        latest["counts"] = event
        subscription.offer(event, latest)
    held = drain(subscription)
    assert len(held) <= 3 and subscription.overflows > 0
    assert timeline in held  # the newest timeline survived the overflows
    totals = [json.loads(event.data)["total"] for event in held if event.kind == "counts"]
    assert totals == sorted(totals) and totals[-1] == 9  # in order, ending with the newest


def test_a_viewer_waiting_with_nothing_sent_hears_nothing() -> None:
    assert asyncio.run(Subscription().next(0.01)) is None


def test_counts_are_news_when_a_number_moves_not_when_only_the_time_does() -> None:
    before = counts(5)
    assert not counts_changed(before, counts(5, as_of="2026-12-01T00:00:01.000+00:00"))
    assert counts_changed(before, counts(6))
    assert counts_changed(before, counts(5, by_country={"DE": 5}))
    assert counts_changed(before, counts(5, rejected={"duplicate": 1}))
    assert counts_changed(before, counts(5, pending=1))
    assert counts_changed(before, counts(5, pending_by_region={"Africa": 1}))
    assert counts_changed(None, before)


class Readings:
    """What a feed reads, counted: the numbers of a petition that never change."""

    def __init__(self) -> None:
        self.counts: list[str] = []
        self.timelines: list[str] = []

    async def read_counts(self, petition_id: str) -> dict[str, object]:
        self.counts.append(petition_id)
        return counts(7, petition_id=petition_id)

    async def read_timeline(self, petition_id: str) -> dict[str, object]:
        self.timelines.append(petition_id)
        return {"petition_id": petition_id, "points": []}


FAST = Schedule(counts_every=0.01, timeline_every=60, linger=0.05)


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened")


def test_viewers_of_one_petition_share_one_feed_that_stops_after_the_last_leaves() -> None:
    readings = Readings()

    async def watch() -> None:
        feeds = LiveFeeds(readings.read_counts, readings.read_timeline, 10, FAST)
        with feeds.watching("p") as first, feeds.watching("p") as second:
            assert len(feeds.feeds) == 1 and feeds.viewers == 2
            for viewer in (first, second):
                kinds = [(await viewer.next(5)), (await viewer.next(5))]
                assert [event.kind for event in kinds if event] == ["counts", "timeline"]
        assert feeds.viewers == 0
        await until(lambda: not feeds.feeds)

    asyncio.run(watch())
    assert set(readings.counts) == {"p"}
    assert readings.timelines == ["p"]  # once at the start; the next is 60 s away


def test_a_feed_sends_counts_only_when_they_change() -> None:
    readings = Readings()

    async def watch() -> list[Event | None]:
        feeds = LiveFeeds(readings.read_counts, readings.read_timeline, 10, FAST)
        with feeds.watching("p") as viewer:
            received = [await viewer.next(5), await viewer.next(5)]
            await until(lambda: len(readings.counts) >= 5)  # the same numbers, again
            received.append(await viewer.next(0.05))
            return received

    first, second, later = asyncio.run(watch())
    assert first is not None and first.kind == "counts"
    assert second is not None and second.kind == "timeline"
    assert later is None


def test_a_viewer_past_the_cap_is_refused_with_when_to_come_back() -> None:
    readings = Readings()

    async def watch() -> Backpressure:
        feeds = LiveFeeds(readings.read_counts, readings.read_timeline, 2, FAST)
        with feeds.watching("p"), feeds.watching("q"):
            try:
                with feeds.watching("p"):
                    pass
            except Backpressure as refused:
                return refused
        raise AssertionError("a third viewer was let in")

    refused = asyncio.run(watch())
    assert refused.retry_after > 0
    assert "2 viewers" in refused.detail and "sse_max_connections" in refused.detail


def test_a_client_past_its_cap_is_told_429_while_another_client_still_watches() -> None:
    readings = Readings()

    async def watch() -> tuple[RateLimited, int]:
        feeds = LiveFeeds(readings.read_counts, readings.read_timeline, 10, FAST, max_per_client=2)
        one, other = "203.0.113.0/24", "198.51.100.0/24"
        with feeds.watching("p", one), feeds.watching("q", one):
            try:
                with feeds.watching("p", one):
                    raise AssertionError("a third stream of one client was let in")
            except RateLimited as exc:
                refused = exc
            with feeds.watching("p", other):
                watching = feeds.viewers
        assert not feeds.by_client  # every place given back
        with feeds.watching("p", one):  # so the first client may come back
            pass
        return refused, watching

    refused, watching = asyncio.run(watch())
    assert watching == 3
    assert refused.retry_after > 0 and "sse_max_per_client" in refused.detail


def test_the_feed_reads_its_timeline_through_the_api_cache() -> None:
    readings = Readings()

    async def feed_and_api() -> None:
        timelines: Shared[str, dict[str, object]] = Shared(readings.read_timeline, ttl=60)
        feeds = LiveFeeds(readings.read_counts, timelines.get, 10, FAST)
        with feeds.watching("p") as viewer:
            while (event := await viewer.next(5)) is not None and event.kind != "timeline":
                pass
            await timelines.get("p")  # the API's request for the same timeline

    asyncio.run(feed_and_api())
    assert readings.timelines == ["p"]
