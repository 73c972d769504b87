"""Faust's own commit arithmetic, after the guard handled a hole from the log: the
hole's offsets count as done, and the commit passes them (without the mark it
would stop before them for good)."""

from __future__ import annotations

import asyncio

import faust
from faust.types import TP

from streams.worker.engine import mark_handled

HOLE = TP("signatures.confirmations", 1)


def commit_after(committed: int, hole: tuple[int, int] | None, acked: int) -> int | None:
    """The offset Faust would commit: ``committed`` before, the hole ``[start, end)``
    marked as handled (or not), then the record at ``acked`` acknowledged."""

    async def run() -> int | None:
        app = faust.App("continuity-test", broker="kafka://127.0.0.1:9")
        consumer = app.consumer
        consumer._committed_offset[HOLE] = committed
        if hole is not None:
            await mark_handled(app)(HOLE, *hole)
        consumer._acked[HOLE].append(acked)
        consumer._acked_index[HOLE].add(acked)
        return consumer._new_offset(HOLE)

    return asyncio.run(run())


def test_the_commit_passes_a_hole_the_guard_handled() -> None:
    assert commit_after(30, (30, 36), acked=36) == 37


def test_without_the_mark_the_commit_stops_before_the_hole() -> None:
    assert commit_after(30, None, acked=36) is None
