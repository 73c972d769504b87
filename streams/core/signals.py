"""How our plain asyncio servers (the intake, ``countersign serve``) wait to be stopped."""

from __future__ import annotations

import asyncio
import signal


async def until_terminated() -> None:
    """Return at the first SIGTERM or SIGINT, so that the caller shuts down gracefully
    (finishing requests, flushing Kafka) instead of dying mid-request."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
