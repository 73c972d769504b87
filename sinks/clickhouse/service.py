"""The sink as a background thread of ``countersign serve``, the process that owns the
embedded ClickHouse (chDB opens a data directory in one process only).

Its consumer lag is read by a ``Sampler`` of its own, in the background: /metrics and
/healthz render the latest reading and never wait for Kafka.
"""

from __future__ import annotations

import logging
import threading

from clickhouse_connect.driver.client import Client

from sinks.clickhouse.sink import ClickHouseSink
from streams.core.sampling import Sampler
from streams.core.settings import Settings

log = logging.getLogger(__name__)


class SinkService:
    """Consumes the pipeline's output topics into ClickHouse until stopped."""

    def __init__(self, settings: Settings, client: Client) -> None:
        self.sink = ClickHouseSink(settings, client)
        #: The sink's consumer lag, read every ``lag_sample_seconds``.
        self.lag: Sampler[int] = Sampler("sink-lag", self.sink.lag, settings.lag_sample_seconds)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.sink.run, args=(self._stop,), name="clickhouse-sink", daemon=True
        )
        self._thread.start()
        self.lag.start()

    def stop(self) -> None:
        self.lag.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
