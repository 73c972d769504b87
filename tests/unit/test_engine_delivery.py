"""The engine seam's eager delivery (``streams.worker.engine.delivery``): Faust's
consumer hands each record to the agents through ``wait_first``, raced against the
flow being suspended. Taken over, a delivery that does not wait is done at once, and
one that waits is raced exactly as Faust races it."""

from __future__ import annotations

import asyncio
import inspect
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from faust.transport.consumer import Consumer
from mode import Service

from streams.worker.engine.delivery import deliver_eagerly


class ConsumerLike(Service):
    """A mode service with Faust's consumer's flow event: ``wait_first`` is mode's."""

    def __init__(self) -> None:
        super().__init__()
        self.suspend_flow = asyncio.Event()


def run(test: Callable[[ConsumerLike], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        consumer = ConsumerLike()
        deliver_eagerly(consumer)
        return await test(consumer)

    return asyncio.run(main())


def test_a_delivery_that_does_not_wait_is_done_before_the_loop_turns() -> None:
    order: list[str] = []

    async def deliver() -> str:
        order.append("delivered")
        return "queued"

    async def test(consumer: ConsumerLike) -> Any:
        asyncio.get_running_loop().call_soon(order.append, "the loop turned")
        outcome = await consumer.wait_first(deliver(), consumer.suspend_flow.wait())
        order.append("returned")
        await asyncio.sleep(0)
        return outcome

    outcome = run(test)
    assert order == ["delivered", "returned", "the loop turned"]
    assert outcome.results == ["queued"]
    assert not outcome.stopped


def test_a_delivery_that_waits_goes_on_from_where_it_waits_once_that_is_done() -> None:
    steps: list[Any] = []

    async def test(consumer: ConsumerLike) -> Any:
        room = asyncio.get_running_loop().create_future()

        async def deliver() -> str:
            steps.append("before the wait")
            steps.append(await room)
            await asyncio.sleep(0)  # a bare yield on the way is relayed too
            return "queued"

        asyncio.get_running_loop().call_later(0.01, room.set_result, "room")
        return await consumer.wait_first(deliver(), consumer.suspend_flow.wait())

    outcome = run(test)
    assert steps == ["before the wait", "room"]
    assert outcome.results == ["queued"]


def test_a_waiting_delivery_is_cancelled_where_it_waits_when_the_flow_is_suspended() -> None:
    seen: list[str] = []

    async def test(consumer: ConsumerLike) -> Any:
        never = asyncio.get_running_loop().create_future()

        async def deliver() -> None:
            try:
                await never
            except asyncio.CancelledError:
                seen.append("cancelled while waiting")
                raise

        asyncio.get_running_loop().call_later(0.01, consumer.suspend_flow.set)
        return await consumer.wait_first(deliver(), consumer.suspend_flow.wait())

    outcome = run(test)
    assert seen == ["cancelled while waiting"]
    assert outcome.results == [True]  # the flow's wait won, as in Faust's own race


def test_a_delivery_that_fails_at_once_raises_and_leaves_no_coroutine_unawaited() -> None:
    async def deliver() -> None:
        raise ValueError("a bug in a channel")

    async def test(consumer: ConsumerLike) -> Any:
        return await consumer.wait_first(deliver(), consumer.suspend_flow.wait())

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" fails the test
        with pytest.raises(ValueError, match="a bug in a channel"):
            run(test)


def test_while_the_flow_is_suspended_faust_races_the_delivery_itself() -> None:
    started: list[str] = []

    async def deliver() -> None:
        started.append("delivery started")
        await asyncio.sleep(1)

    async def test(consumer: ConsumerLike) -> Any:
        consumer.suspend_flow.set()
        return await consumer.wait_first(deliver(), consumer.suspend_flow.wait())

    outcome = run(test)
    assert outcome.results == [True]
    assert started in ([], ["delivery started"])  # Faust's task, cancelled either way


def test_any_other_wait_is_fausts_own() -> None:
    async def test(consumer: ConsumerLike) -> Any:
        other = asyncio.Event()
        asyncio.get_running_loop().call_later(0.01, other.set)
        return await consumer.wait_first(other.wait(), timeout=1.0)

    assert run(test).results == [True]


def test_faust_still_delivers_each_record_through_wait_first_raced_with_the_flow() -> None:
    """The hook takes over this one call of Faust's consumer loop; if Faust changes it,
    this fails (and the eager path would silently stop applying)."""
    source = inspect.getsource(Consumer._drain_messages)
    assert "await self.wait_first(" in source
    assert "callback(message), self.suspend_flow.wait()" in source
    consumer_init = inspect.getsource(Consumer.__init__)
    assert "self.suspend_flow = Event()" in consumer_init
    assert Consumer.__annotations__["suspend_flow"] in (asyncio.Event, "Event")
