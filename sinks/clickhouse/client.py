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
from streams.core.errors import ClickHouseLocked, ConfigurationError
from streams.core.settings import Settings


def chdb_directory(dsn: str) -> Path | None:
    parsed = urlparse(dsn)
    if parsed.scheme != "chdb":
        return None
    return Path(parsed.netloc + parsed.path).resolve()


#: On a cluster (``sinks.clickhouse.cluster``): an insert returns once the shards have
#: its rows (not when the Distributed table queued them), and a subquery over a
#: Distributed table inside a query over another is run once, globally, instead of
#: being refused.
CLUSTER_SETTINGS = {"distributed_foreground_insert": 1, "distributed_product_mode": "global"}


def connect_with(settings: Settings) -> Client:
    """The client of ``settings``' ClickHouse (and cluster, if any)."""
    return connect(settings.clickhouse_target, cluster=settings.clickhouse_cluster)


def connect(dsn: str, *, cluster: str = "") -> Client:
    directory = chdb_directory(dsn)
    if directory is not None and cluster:
        raise ConfigurationError(
            f"COUNTERSIGN_CLICKHOUSE_CLUSTER={cluster} needs ClickHouse servers "
            "(COUNTERSIGN_CLICKHOUSE_DSN=http(s)://...), not the embedded engine"
        )
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        _lock(directory)
        return clickhouse_connect.get_client(dsn=f"chdb://{directory}")
    return clickhouse_connect.get_client(dsn=dsn, settings=CLUSTER_SETTINGS if cluster else None)


def _lock(directory: Path) -> None:
    owner = hold_for_life(directory)
    if owner is not None:
        raise ClickHouseLocked(
            f"the embedded ClickHouse at {directory} is in use by {owner}; only one process "
            "can open it (`countersign serve` owns it: query it through its API, or point "
            "COUNTERSIGN_CLICKHOUSE_DSN at a ClickHouse server)"
        )
