"""One way to reach ClickHouse: a DSN, ``chdb://<dir>`` or ``http(s)://...``.

chDB runs the ClickHouse engine inside this process, and a data directory can be
opened by one process only. We take an exclusive lock file beside it first, so a
second process gets a clear error instead of chDB's own.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from streams.core.dirlock import hold_for_life
from streams.core.errors import ClickHouseLocked


def chdb_directory(dsn: str) -> Path | None:
    parsed = urlparse(dsn)
    if parsed.scheme != "chdb":
        return None
    return Path(parsed.netloc + parsed.path).resolve()


def connect(dsn: str) -> Client:
    directory = chdb_directory(dsn)
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        _lock(directory)
        return clickhouse_connect.get_client(dsn=f"chdb://{directory}")
    return clickhouse_connect.get_client(dsn=dsn)


def _lock(directory: Path) -> None:
    owner = hold_for_life(directory)
    if owner is not None:
        raise ClickHouseLocked(
            f"the embedded ClickHouse at {directory} is in use by {owner}; only one process "
            "can open it (`countersign serve` owns it: query it through its API, or point "
            "COUNTERSIGN_CLICKHOUSE_DSN at a ClickHouse server)"
        )
