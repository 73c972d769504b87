"""Recent submissions answer identical resends: acknowledged or in flight, never failed,
for a window, in bounded memory."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from streams.core.errors import PublishFailed
from streams.intake.resends import RecentSubmissions, same_submission
from streams.publish import Signature

TOKEN = ("sig-1", "syria-icc", "layla@example.org")


def run(scenario: Callable[[asyncio.AbstractEventLoop], Awaitable[None]]) -> None:
    async def main() -> None:
        await scenario(asyncio.get_running_loop())

    asyncio.run(main())


def test_an_acknowledged_submission_answers_its_resend() -> None:
    async def scenario(loop: asyncio.AbstractEventLoop) -> None:
        recent: RecentSubmissions[str] = RecentSubmissions(window=600, capacity=10)
        first = loop.create_future()
        recent.add(TOKEN, first, now=0.0)
        first.set_result("acknowledged")
        resend = recent.get(TOKEN, now=10.0)
        assert resend is not None and resend.result() == "acknowledged"

    run(scenario)


def test_a_resend_of_a_submission_in_flight_gets_the_same_pending_outcome() -> None:
    async def scenario(loop: asyncio.AbstractEventLoop) -> None:
        recent: RecentSubmissions[str] = RecentSubmissions(window=600, capacity=10)
        first = loop.create_future()
        recent.add(TOKEN, first, now=0.0)
        assert recent.get(TOKEN, now=1.0) is first

    run(scenario)


def test_a_failed_submission_is_forgotten_so_its_resend_is_published() -> None:
    async def scenario(loop: asyncio.AbstractEventLoop) -> None:
        recent: RecentSubmissions[str] = RecentSubmissions(window=600, capacity=10)
        first = loop.create_future()
        recent.add(TOKEN, first, now=0.0)
        first.set_exception(PublishFailed("no broker"))
        assert recent.get(TOKEN, now=0.0) is None  # at once, before its callbacks ran
        await asyncio.sleep(0)
        assert len(recent) == 0

    run(scenario)


def test_a_submission_older_than_the_window_is_forgotten() -> None:
    async def scenario(loop: asyncio.AbstractEventLoop) -> None:
        recent: RecentSubmissions[str] = RecentSubmissions(window=600, capacity=10)
        first = loop.create_future()
        first.set_result("acknowledged")
        recent.add(TOKEN, first, now=0.0)
        assert recent.get(TOKEN, now=599.0) is first
        assert recent.get(TOKEN, now=600.0) is None
        assert len(recent) == 0

    run(scenario)


def test_past_its_capacity_the_oldest_submission_is_forgotten_first() -> None:
    async def scenario(loop: asyncio.AbstractEventLoop) -> None:
        recent: RecentSubmissions[str] = RecentSubmissions(window=600, capacity=3)
        for n in range(5):
            recent.add(("sig", n), loop.create_future(), now=float(n))
        assert len(recent) == 3
        assert [recent.get(("sig", n), now=5.0) is not None for n in range(5)] == [
            False,
            False,
            True,
            True,
            True,
        ]

    run(scenario)


def test_another_token_is_another_submission() -> None:
    async def scenario(loop: asyncio.AbstractEventLoop) -> None:
        recent: RecentSubmissions[str] = RecentSubmissions(window=600, capacity=10)
        recent.add(TOKEN, loop.create_future(), now=0.0)
        assert recent.get(("sig-2", "syria-icc", "layla@example.org"), now=1.0) is None

    run(scenario)


def test_a_zero_window_remembers_nothing() -> None:
    async def scenario(loop: asyncio.AbstractEventLoop) -> None:
        recent: RecentSubmissions[str] = RecentSubmissions(window=0, capacity=10)
        recent.add(TOKEN, loop.create_future(), now=0.0)
        assert recent.get(TOKEN, now=0.0) is None

    run(scenario)


def test_the_same_submission_is_its_id_petition_and_email_in_any_case() -> None:
    def signature(email: str, full_name: str) -> Signature:
        return Signature(
            petition_id="syria-icc",
            full_name=full_name,
            email=email,
            country="SY",
            signature_id="sig-1",
            submitted_at=datetime.now(UTC),
        )

    first = signature("Layla@Example.org", "Layla Haddad")
    resend = signature(" layla@example.ORG", "Layla H.")
    assert same_submission(first) == same_submission(resend) == TOKEN
