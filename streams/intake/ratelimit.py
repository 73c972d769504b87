"""Sliding-window rate limits per (client, petition), as petition sites apply them.

A client is the network its address is limited as (``clientip.rate_bucket``: an
IPv4 address, an IPv6 /64); the intake makes the keys, this module only counts.

Pure bookkeeping with an injected clock, so the rules are tested without sleeping.
Only signatures Kafka took consume budget: the intake reserves a slot before
publishing and releases it when the event was not taken, so a typo or an outage
never locks a signer out. A slot carries a token (the submission's signature_id,
petition and email): resending the very same submission while its slot is alive
is free, so a retry after a lost response is never refused.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable

from streams.core.errors import RateLimited


class RateLimiter:
    """``windows``: ``[(count, seconds), ...]``; a key may use at most ``count`` slots
    in any ``seconds``-long window, for every window at once."""

    def __init__(self, windows: list[tuple[int, float]]) -> None:
        self.windows = list(windows)
        self.horizon = max((seconds for _, seconds in self.windows), default=0.0)
        self._slots: dict[Hashable, deque[tuple[float, Hashable]]] = {}
        self._last_sweep = -math.inf

    def acquire(self, key: Hashable, now: float, token: Hashable = None) -> float | None:
        """Take a slot at ``now`` and return its stamp (for ``release``), or raise
        ``RateLimited`` with the seconds until a slot frees up. A ``token`` that holds
        a live slot already takes nothing and returns None (nothing to release)."""
        self._sweep(now)
        slots = self._slots.setdefault(key, deque())
        while slots and slots[0][0] <= now - self.horizon:
            slots.popleft()
        if token is not None and any(held == token for _, held in slots):
            return None
        wait = 0.0
        for count, seconds in self.windows:
            recent = [stamp for stamp, _ in slots if stamp > now - seconds]
            if len(recent) >= count:
                # The window frees up when its oldest stamp that still counts ages out.
                wait = max(wait, recent[-count] + seconds - now)
        if wait > 0:
            raise RateLimited(
                f"too many signatures from this address; try again in {math.ceil(wait)} s",
                retry_after=wait,
            )
        slots.append((now, token))
        return now

    def release(self, key: Hashable, stamp: float) -> None:
        """Give back a slot whose event Kafka did not take."""
        slots = self._slots.get(key)
        if slots is not None:
            for slot in [s for s in slots if s[0] == stamp]:
                slots.remove(slot)

    def __len__(self) -> int:
        return len(self._slots)

    def _sweep(self, now: float) -> None:
        """Forget keys with no recent slot, at most once per horizon (bounded memory)."""
        if now - self._last_sweep < self.horizon:
            return
        self._last_sweep = now
        for key in [
            k for k, slots in self._slots.items() if not slots or slots[-1][0] <= now - self.horizon
        ]:
            del self._slots[key]
