"""Where a signer's clear personal data could hide after an erasure: every record of
every topic, the brokers' segment files, every ClickHouse table, and every file of
the run (RocksDB, chDB's data, exports, logs). Each answers the places it found a
needle in, so a failing test says where."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from confluent_kafka.admin import AdminClient, ConfigResource
from pypdf import PdfReader

from streams.core.logscan import scan, whole_log
from streams.core.settings import Settings
from streams.core.topicspecs import topics_in_use
from streams.testing.processes import REPO

#: Run in a process of its own: chDB opens a directory in one process at a time.
CLICKHOUSE_SCAN = """
import json, sys
from sinks.clickhouse.client import connect
target, database, needles = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
client = connect(target)
tables = client.query(
    "SELECT name FROM system.tables WHERE database = {db:String} AND engine NOT LIKE '%View'",
    parameters={"db": database},
).result_rows
found, rows = [], 0
for (table,) in tables:
    for row in client.query(f"SELECT * FROM `{database}`.`{table}`").result_rows:
        rows += 1
        for cell in row:
            text = cell.decode("utf-8", "replace") if isinstance(cell, bytes) else str(cell)
            found += [f"{table}: {needle}" for needle in needles if needle in text]
print(json.dumps({"tables": len(tables), "rows": rows, "found": found}))
"""


def topic_records_holding(settings: Settings, needles: list[bytes]) -> list[str]:
    """Records (key, value or a header) of any of the pipeline's topics holding a needle."""
    found = []
    for spec in topics_in_use(settings):
        for record in scan(settings, whole_log(settings, spec.name)):
            blobs = [record.key or b"", record.value or b""]
            blobs += [value or b"" for _, value in record.headers]
            if any(needle in blob for blob in blobs for needle in needles):
                found.append(f"{spec.name}[{record.partition}]@{record.offset}")
    return found


def broker_log_dirs(settings: Settings) -> list[Path]:
    """Where the broker keeps its logs, as it says itself (it runs on this machine)."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    broker = next(iter(admin.list_topics(timeout=5).brokers))
    resource = ConfigResource(ConfigResource.Type.BROKER, str(broker))
    config = admin.describe_configs([resource])[resource].result()
    dirs = [Path(d) for d in config["log.dirs"].value.split(",")]
    assert all(d.is_dir() for d in dirs), f"the broker's log.dirs {dirs} are not on this machine"
    return dirs


def readable(path: Path) -> bytes:
    """A file's bytes; for a PDF also its text and attachments as pypdf reads them (its
    names are drawn as glyph ids and its manifest is deflated: not in the raw bytes)."""
    data = path.read_bytes()
    if path.suffix == ".pdf":
        pdf = PdfReader(path)
        text = "".join(page.extract_text() for page in pdf.pages)
        attached = b"".join(b"".join(files) for files in pdf.attachments.values())
        data += text.encode() + attached
    return data


def files_holding(roots: list[Path], needles: list[bytes]) -> tuple[int, list[str]]:
    """How many files were read under ``roots``, and those holding a needle."""
    read, found = 0, []
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            try:
                data = readable(path)
            except (FileNotFoundError, PermissionError):  # gone (compaction) meanwhile
                continue
            read += 1
            found += [f"{path}: {needle!r}" for needle in needles if needle in data]
    return read, found


def segments_holding(settings: Settings, needles: list[bytes]) -> tuple[int, list[str]]:
    """The brokers' files of this run's topics (its prefix) holding a needle."""
    dirs = [
        partition
        for log_dir in broker_log_dirs(settings)
        for partition in log_dir.glob(f"{settings.topic_prefix}*")
    ]
    return files_holding(dirs, needles)


def clickhouse_rows_holding(settings: Settings, needles: list[str]) -> dict[str, object]:
    """Every row of every table of the run's ClickHouse database, read through
    clickhouse-connect once ``serve`` has stopped: ``{"tables", "rows", "found"}``."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CLICKHOUSE_SCAN,
            settings.clickhouse_target,
            settings.clickhouse_database,
            json.dumps(needles),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result
