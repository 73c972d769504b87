"""A worker that stays unsettled (a rebalance or a restore that never ends) says so in
its log once a minute: while it lasts, the idle agents check no partition's end
(``streams.worker.policy.watch_tails``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from streams.worker import policy


@dataclass
class Recovery:
    in_recovery: bool = False


@dataclass
class Tables:
    recovery: Recovery = field(default_factory=Recovery)


@dataclass
class App:
    rebalancing: bool = False
    tables: Tables = field(default_factory=Tables)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(policy.time, "monotonic", clock)
    return clock


def checks(app: Any, clock: Clock, seconds: float) -> float | None:
    """The tail watcher's checks, every 5 s for ``seconds``: what it last noted."""
    since: float | None = None
    for _ in range(round(seconds / 5)):
        clock.now += 5
        since = policy._note_unsettled("aggregate", app, since)
    return since


def test_a_settled_worker_notes_nothing(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    assert checks(App(), clock, 300) is None
    assert not caplog.records


def test_a_restore_that_never_ends_is_logged_once_a_minute(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    app = App(tables=Tables(Recovery(in_recovery=True)))
    with caplog.at_level(logging.WARNING):
        since = checks(app, clock, 185)  # noted at the first check, then 180 s more
    assert since == 1005.0
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "aggregate: not settled for 60 s (restoring its tables): no partition's end is "
        "checked meanwhile",
        "aggregate: not settled for 120 s (restoring its tables): no partition's end is "
        "checked meanwhile",
        "aggregate: not settled for 180 s (restoring its tables): no partition's end is "
        "checked meanwhile",
    ]


def test_a_short_rebalance_says_nothing_and_a_long_one_says_when_it_ended(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    app = App(rebalancing=True)
    with caplog.at_level(logging.WARNING):
        since = policy._note_unsettled("dedupe", app, None)
        clock.now += 30
        app.rebalancing = False
        assert policy._note_unsettled("dedupe", app, since) is None
        assert not caplog.records
        app.rebalancing = True
        since = policy._note_unsettled("dedupe", app, None)
        clock.now += 90
        app.rebalancing = False
        assert policy._note_unsettled("dedupe", app, since) is None
    assert [r.getMessage() for r in caplog.records] == ["dedupe: settled again after 90 s"]
