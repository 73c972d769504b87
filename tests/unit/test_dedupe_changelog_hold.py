"""The dedupe stage holds its winners' changelog writes back (``CHANGELOG_HOLD_WRITES``)
and hands them to the producer before the flush that precedes every commit: an offset
is never committed before the writes of its record are on their way to Kafka."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from faust.types import TP

from streams.catalogue.follower import PetitionLookup
from streams.core.settings import Settings
from streams.worker import dedupe, engine
from streams.worker.app import create_app
from streams.worker.topology import topology


class Outputs:
    """What the worker's output producer was asked to do, in order."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def produce(self, topic: str, *_: Any, tracked: bool = False) -> None:
        self.calls.append(f"produce {topic}" + (" (tracked)" if tracked else ""))

    async def flush(self) -> None:
        self.calls.append("flush")

    def take_delivered(self) -> dict[tuple[str, int], list[int]]:
        return {}


def test_held_winners_go_to_the_changelog_before_the_flush_that_precedes_a_commit(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    app = create_app(settings, PetitionLookup(settings))
    outputs = Outputs()
    app.use_outputs(outputs)  # type: ignore[arg-type]
    stage = dedupe.register(app, topology(app))
    changelog = stage.writes.changelog

    with engine.handling_on(app, TP(settings.topic("signatures.submitted"), 1)):
        for n in range(3):
            stage.writes[b"petition:" + n.to_bytes(32, "big")] = b"FR 1 0 1"
            stage.writes.end_record(1)
    assert outputs.calls == []  # far fewer than CHANGELOG_HOLD_WRITES: held

    async def flush_faust_producer() -> None:
        await app.producer.flush()  # what Faust awaits right before it commits offsets

    asyncio.run(flush_faust_producer())
    assert outputs.calls == [f"produce {changelog} (tracked)", "flush"]
