"""Identical resends are answered from memory, not published again.

A resend (a lost response, a double click, a client's retry loop) repeats its
signature_id, petition and email. The pipeline counts it once, but every copy
published stays forever on ``signatures.submitted``: one client once sent 10,000 in
100 s, each kept. So the intake remembers, for a short window, what became of each
submission it published, and answers a resend with that outcome:

- Kafka acknowledged the first: the resend gets the same ``202`` and signature_id,
  and nothing is published. It was acknowledged, so this is no promise on credit.
- The first is still in flight: the resend waits for the same outcome (one record
  on the log, and nobody hears ``202`` before Kafka said yes).
- The first failed: it is forgotten at once, so the resend is published anew.

Memory is bounded twice: entries leave after ``window`` seconds, and past
``capacity`` the oldest go first. Forgetting is always safe: a forgotten
submission's resend is published again, which is what happened before.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

from streams.publish import Signature

T = TypeVar("T")


def same_submission(signature: Signature) -> tuple[str, str, str]:
    """What makes two submissions one: signature_id, petition and email (trimmed and
    case-folded, as the signer's retry may differ there). The rate limiter uses the
    same token, so a resend never takes a second slot either."""
    return (signature.signature_id, signature.petition_id, signature.email.strip().lower())


class RecentSubmissions(Generic[T]):
    """Outcomes (futures) of the submissions published in the last ``window`` seconds,
    at most ``capacity`` of them. Times are the caller's (``time.monotonic()``)."""

    def __init__(self, window: float, capacity: int) -> None:
        self.window = window
        self.capacity = capacity
        self._entries: OrderedDict[Hashable, tuple[float, asyncio.Future[T]]] = OrderedDict()

    def get(self, token: Hashable, now: float) -> asyncio.Future[T] | None:
        """The outcome of the submission ``token`` names: done (acknowledged) or still
        pending; None when it is unknown, too old or failed."""
        self._expire(now)
        entry = self._entries.get(token)
        if entry is None or _failed(entry[1]):
            return None
        return entry[1]

    def add(self, token: Hashable, outcome: asyncio.Future[T], now: float) -> None:
        """Remember a submission just handed to the publisher."""
        self._entries[token] = (now, outcome)
        self._entries.move_to_end(token)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        outcome.add_done_callback(lambda done: self._forget_failure(token, done))

    def __len__(self) -> int:
        return len(self._entries)

    def _forget_failure(self, token: Hashable, outcome: asyncio.Future[T]) -> None:
        entry = self._entries.get(token)
        if _failed(outcome) and entry is not None and entry[1] is outcome:
            del self._entries[token]

    def _expire(self, now: float) -> None:
        # Entries are in the order they were added, so the oldest is first.
        while self._entries:
            added, _ = next(iter(self._entries.values()))
            if added > now - self.window:
                return
            self._entries.popitem(last=False)


def _failed(outcome: asyncio.Future[T]) -> bool:
    # ``exception()`` also marks a failure as seen: no "never retrieved" warning.
    return outcome.done() and (outcome.cancelled() or outcome.exception() is not None)
