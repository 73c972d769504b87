"""The live feed's fan-out (streams/web/live.py): what a viewer's mailbox holds, and
which counts are news."""

from __future__ import annotations

import asyncio
import json

from streams.web.live import Event, Kind, Subscription, counts_changed


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
    assert counts_changed(None, before)
