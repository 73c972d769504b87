"""The sink as a background service of the worker process, which owns the embedded
ClickHouse (chDB opens a data directory in one process only)."""

from __future__ import annotations

import logging
import threading

from clickhouse_connect.driver.client import Client

from sinks.clickhouse.client import connect
from sinks.clickhouse.migrate import migrate
from sinks.clickhouse.sink import ClickHouseSink
from streams.settings import Settings

log = logging.getLogger(__name__)


class SinkService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client: Client | None = None
        self.sink: ClickHouseSink | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Connect, apply migrations, start consuming (blocking until migrated)."""
        self.client = connect(self.settings.clickhouse_target)
        applied = migrate(self.client, self.settings.clickhouse_database)
        log.info(
            "ClickHouse %s ready (%d migrations applied now)",
            self.settings.clickhouse_target,
            len(applied),
        )
        self.sink = ClickHouseSink(self.settings, self.client)
        self._thread = threading.Thread(
            target=self.sink.run, args=(self._stop,), name="clickhouse-sink", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
