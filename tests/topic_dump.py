"""What a failing end-to-end test leaves behind to be read: every record of every
topic of its run, as JSON lines under its directory (the ``settings`` fixture drops
the topics when the test ends, so the evidence would be gone)."""

from __future__ import annotations

import json
from pathlib import Path

from streams.core.errors import KafkaUnavailable
from streams.core.logscan import scan, whole_log
from streams.core.settings import Settings
from streams.core.topicspecs import ALL_TOPICS


def dump_topics(settings: Settings, directory: Path, extra: tuple[str, ...] = ()) -> Path:
    """Write ``<topic>.jsonl`` per topic (partition, offset, timestamp, key and value in
    hex, headers) into ``directory/topics``; returns that directory. ``extra``: more
    topic names under the prefix (internal ones: changelogs, partial counts)."""
    target = directory / "topics"
    target.mkdir(parents=True, exist_ok=True)
    for name in [spec.name for spec in ALL_TOPICS] + list(extra):
        try:
            log = whole_log(settings, name)
        except KafkaUnavailable:  # not created in this run
            continue
        with (target / f"{name}.jsonl").open("w") as out:
            for record in scan(settings, log):
                line = {
                    "partition": record.partition,
                    "offset": record.offset,
                    "timestamp": record.timestamp,
                    "key": (record.key or b"").hex(),
                    "value": (record.value or b"").hex(),
                    "headers": [[k, (v or b"").hex()] for k, v in record.headers],
                }
                out.write(json.dumps(line) + "\n")
    return target
