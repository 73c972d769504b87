"""A Faust app with no logic, for bench/faust_floor.py: it consumes raw records and,
by ``FLOOR_MODE``, does nothing, sends each on (through Faust's ``Topic.send``, or
straight to its producer), also writes a table entry per record, or sends
``ITEMS_PER_RECORD`` records per consumed one (what a record carrying several
signatures would cost per signature). It prints one JSON line when it has seen
``FLOOR_EVENTS`` records."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import faust

EVENTS = int(os.environ["FLOOR_EVENTS"])
MODE = os.environ["FLOOR_MODE"]  # consume | send | send+table | producer-send | 16-per-record
ITEMS_PER_RECORD = int(os.environ["FLOOR_ITEMS_PER_RECORD"])
PREFIX = os.environ["FLOOR_PREFIX"]

app = faust.App(
    f"{PREFIX}{MODE.replace('+', '-')}",
    broker=f"kafka://{os.environ['FLOOR_BOOTSTRAP']}",
    store="memory://",
    producer_linger=0.01,
    topic_partitions=int(os.environ["FLOOR_PARTITIONS"]),
)


def raw(name: str) -> Any:
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


source = raw(f"{PREFIX}source")
target = raw(f"{PREFIX}target")
table = app.Table("floor", default=None, key_type=bytes, value_type=bytes)
seen = {"events": 0, "started": 0.0}


@app.agent(source)
async def copy(stream: Any) -> None:
    async for event in stream.events():
        if not seen["events"]:
            seen["started"] = time.perf_counter()
        seen["events"] += 1
        if MODE in ("send", "send+table"):
            await target.send(key=event.message.key, value=event.message.value)
        if MODE == "send+table":
            table[event.message.key] = b"x"
        if MODE in ("producer-send", "16-per-record"):
            # Faust flushes this producer before it commits offsets, as for Topic.send.
            for i in range(ITEMS_PER_RECORD if MODE == "16-per-record" else 1):
                await app.producer.send(
                    target.get_topic_name(),
                    b"%s%d" % (event.message.key, i),
                    event.message.value,
                    None,
                    None,
                    None,
                )
        if seen["events"] == EVENTS:
            seconds = time.perf_counter() - seen["started"]
            print(json.dumps({"mode": MODE, "events_per_s": round(EVENTS / seconds)}), flush=True)
            os._exit(0)  # a measurement, not a service: no graceful shutdown to wait for
