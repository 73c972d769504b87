"""The one error policy of every agent, and the ack that goes with it.

* **Bad input is never an exception here.** Each agent turns an event it cannot read
  or judge into a verdict (a dead letter with its reason) inside its handler, so
  input alone can never stop a worker.
* **An event is acknowledged only after its handler returned**, that is after every
  record it produces has been handed to the producer (whose queue Faust flushes
  before each offset commit). Faust's own acks are switched off (``noack``): they
  run in a ``finally``, so an exception in a handler would mark a half-handled event
  as done, and Faust commits on a task error (``Consumer.on_task_error``).
* **Anything else** (a failing producer, a bug) **stops the process at once**,
  without a commit: everything after the last commit is read again on restart, and
  every stage is idempotent under redelivery (docs/exactly-once.md). Letting Faust
  restart the agent instead would skip the event, and its commit check lets one
  unacknowledged offset through (``Consumer._new_offset``), so the skipped event
  could be committed unhandled.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from confluent_kafka import KafkaException

from streams.worker.continuity import ContinuityGuard, broker_committed
from streams.worker.engine import (
    handling_on,
    inbound_times,
    mark_handled,
    on_revoked,
    owned,
    settled,
    stream_topics,
    unsettled_by,
)

log = logging.getLogger(__name__)

#: Exit status of a worker stopped by ``halt`` (BSD sysexits' EX_SOFTWARE).
HALT_EXIT_STATUS = 70

Handler = Callable[[Any], Awaitable[None]]


def halt(agent: str, message: Any, exc: BaseException) -> NoReturn:
    """Stop the worker now, committing nothing more."""
    where = f"{message.topic}[{message.partition}]@{message.offset}"
    halt_worker(f"{agent} could not handle {where}", exc)


def halt_worker(reason: str, exc: BaseException | None = None) -> NoReturn:
    """Stop the worker now, committing nothing more, so that it starts again from the
    last commit: for a record it could not handle (``halt``), or a failure that is not
    about one input record (Kafka did not take an output, ``streams.worker.outputs``)."""
    log.critical("%s; stopping the worker without committing", reason, exc_info=exc)
    logging.shutdown()
    os._exit(HALT_EXIT_STATUS)


#: How long an agent must have had nothing handed over before it looks for records at
#: the end of its partitions that were never handed over (``watch_tails``).
IDLE_SECONDS = 10.0


async def handle_each(name: str, stream: Any, handle: Handler) -> None:
    """Run ``handle`` on each message of ``stream`` in order; ack it when it returned.
    Records of its partition that were never handed over are handled before it,
    from the log (``streams.worker.continuity``), and so are those at the end of a
    partition once the agent has been idle a while (``watch_tails``)."""
    app = stream.app
    settings = app.countersign_settings
    guard = ContinuityGuard(settings, broker_committed(settings, app.conf.id), mark_handled(app))
    on_revoked(app, guard.forget)  # a partition that comes back: its commit counts again
    inbound = inbound_times(app)
    manual = stream.noack()
    one_at_a_time = asyncio.Lock()  # a record from Faust or from the log, never both
    last_handed = [time.monotonic()]
    watcher = asyncio.ensure_future(
        watch_tails(name, stream, guard, handle, lock=one_at_a_time, last_handed=last_handed)
    )
    try:
        async for event in manual.events():
            async with one_at_a_time:
                last_handed[0] = inbound[event.message.tp] = time.monotonic()
                try:
                    if await guard.handle_missed(event.message, handle):
                        await handle(event.message)
                except Exception as exc:
                    halt(name, event.message, exc)
            await manual.ack(event)
    finally:
        watcher.cancel()


async def watch_tails(
    name: str,
    stream: Any,
    guard: ContinuityGuard,
    handle: Handler,
    *,
    lock: asyncio.Lock,
    last_handed: list[float],
) -> None:
    """Every few seconds, once the agent has had nothing for ``IDLE_SECONDS`` and the
    app is settled (no rebalance, tables restored): handle from the log whatever the
    partitions it owns hold past what it handled (``ContinuityGuard.handle_tail``).
    A record Faust hands over later all the same is only acknowledged
    (``ContinuityGuard.handle_missed``)."""
    app = stream.app
    topics = stream_topics(stream)
    unsettled_since: float | None = None
    while True:
        await asyncio.sleep(IDLE_SECONDS / 2)
        unsettled_since = _note_unsettled(name, app, unsettled_since)
        if time.monotonic() - last_handed[0] < IDLE_SECONDS or unsettled_since is not None:
            guard.ends_seen.clear()  # not idle since: what was seen may be on its way
            continue
        async with lock:
            try:
                for tp in owned(app, topics):
                    if not settled(app):
                        break
                    with handling_on(app, tp):  # the stores write the partition being handled
                        await guard.handle_tail(tp, handle)
            except KafkaException as exc:  # the broker away: nothing moved, check again
                log.warning("%s: could not check the ends of its partitions: %s", name, exc)
            except Exception as exc:  # a bug: as for any record (the module's docstring)
                halt_worker(f"{name} could not handle the end of its partitions", exc)


#: How long a worker may stay unsettled (rebalancing, or restoring its tables) before
#: its log says so, once a minute: while it lasts, no partition's end is checked.
UNSETTLED_WARNING_SECONDS = 60.0


def _note_unsettled(name: str, app: Any, since: float | None) -> float | None:
    """Since when the app has been unsettled (None: it is settled). A rebalance or a
    restore that never ends stops this worker's partitions: its log must say so."""
    now = time.monotonic()
    reason = unsettled_by(app)
    if reason is None:
        if since is not None and now - since >= UNSETTLED_WARNING_SECONDS:
            log.warning("%s: settled again after %.0f s", name, now - since)
        return None
    if since is None:
        return now
    waited = now - since
    if (
        waited >= UNSETTLED_WARNING_SECONDS
        and waited % UNSETTLED_WARNING_SECONDS < IDLE_SECONDS / 2
    ):
        log.warning(
            "%s: not settled for %.0f s (%s): no partition's end is checked meanwhile",
            name,
            waited,
            reason,
        )
    return since
