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

import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from streams.worker.continuity import ContinuityGuard, broker_committed
from streams.worker.engine import inbound_times, mark_handled

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


async def handle_each(name: str, stream: Any, handle: Handler) -> None:
    """Run ``handle`` on each message of ``stream`` in order; ack it when it returned.
    Records of its partition that were never handed over are handled before it,
    from the log (``streams.worker.continuity``)."""
    app = stream.app
    settings = app.countersign_settings
    guard = ContinuityGuard(settings, broker_committed(settings, app.conf.id), mark_handled(app))
    inbound = inbound_times(app)
    manual = stream.noack()
    async for event in manual.events():
        inbound[event.message.tp] = time.monotonic()
        try:
            await guard.handle_missed(event.message, handle)
            await handle(event.message)
        except Exception as exc:
            halt(name, event.message, exc)
        await manual.ack(event)
