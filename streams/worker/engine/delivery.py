"""The engine seam's delivery of records to the agents: Faust's consumer hands each
record to its agents' queues through ``wait_first``, which races the delivery against
a suspension of the flow (a rebalance) and the consumer stopping or crashing. It made
four tasks and an ``asyncio.wait`` for every record, and needed two or three turns of
the event loop before the next record could go. While ``validate`` worked through a
backlog of batches, each of those turns waited for a chunk of its work (~2 ms): the
consumer delivered ~200 records a second, the records sent home and the partial counts
waited seconds behind the submissions, and validate itself ran dry at times
(``bench.phases``; docs/benchmarks.md, 2026-12-07, night).

``deliver_eagerly`` starts each delivery at once, as Python 3.12's eager tasks do: a
delivery that completes without waiting (the agents' queues have room, the flow is on:
nearly always) is done before ``wait_first`` returns, with no task and no turn of the
loop. One that must wait (a full queue, the flow suspended meanwhile) is raced as
Faust races it, from where it waits: the same outcome, cancellation included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

from mode.services import WaitResults

#: The code of ``asyncio.Event.wait``: the flow's suspension, the second coroutine of
#: the one call this hook takes over (``_drain_messages``).
_EVENT_WAIT = asyncio.Event.wait.__code__


class _WaitingFrom:
    """A coroutine already started, as an awaitable that goes on from where it waits:
    it first hands its driver what the coroutine waits on (the future it yielded, or
    None for a bare yield), then relays every resume and throw to it, as ``await``
    would have."""

    __slots__ = ("coroutine", "waiting_on")

    def __init__(self, coroutine: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self.coroutine = coroutine
        self.waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine, waiting_on = self.coroutine, self.waiting_on
        try:
            while True:
                try:
                    sent = yield waiting_on
                except GeneratorExit:
                    coroutine.close()
                    raise
                except BaseException as exc:  # a cancellation, or the future's exception
                    waiting_on = coroutine.throw(exc)
                else:
                    waiting_on = coroutine.send(sent)
        except StopIteration as stop:
            return stop.value


def is_delivery_call(coros: tuple[Any, ...], suspend_flow: Any) -> bool:
    """Whether ``wait_first`` was called as ``_drain_messages`` calls it: a delivery
    coroutine, then ``suspend_flow.wait()`` while the flow is on."""
    if len(coros) != 2 or suspend_flow.is_set():
        return False
    delivery, flow_wait = coros
    if not (asyncio.iscoroutine(delivery) and asyncio.iscoroutine(flow_wait)):
        return False
    frame = getattr(flow_wait, "cr_frame", None)
    return (
        getattr(flow_wait, "cr_code", None) is _EVENT_WAIT
        and frame is not None
        and frame.f_locals.get("self") is suspend_flow
    )


def deliver_eagerly(consumer: Any) -> None:
    """Make ``consumer`` (Faust's) start each record's delivery at once (the module's
    docstring says why). Only the call of ``_drain_messages`` is taken over; any other
    ``wait_first`` is Faust's own."""
    faust_wait_first = consumer.wait_first
    suspend_flow = consumer.suspend_flow

    async def wait_first(*coros: Any, timeout: Any = None) -> Any:
        if timeout is not None or not is_delivery_call(coros, suspend_flow):
            return await faust_wait_first(*coros, timeout=timeout)
        delivery, flow_wait = coros
        try:
            waiting_on = delivery.send(None)
        except StopIteration as done:
            flow_wait.close()
            return WaitResults([delivery], [done.value], False)
        except BaseException:
            flow_wait.close()
            raise
        return await faust_wait_first(_WaitingFrom(delivery, waiting_on), flow_wait)

    consumer.wait_first = wait_first
