"""The sink as a background thread of ``countersign serve``, the process that owns the
embedded ClickHouse (chDB opens a data directory in one process only).

The thread is supervised: if the sink's loop ever raises, the thread records why and
ends, ``alive`` turns False, and serve's /healthz fails on it (the process is then
restarted by whatever runs it) instead of serving counts that silently stopped moving.

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
        #: Why the sink's loop died; None while it runs (or after a clean stop).
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        """Whether the sink's loop runs (False before ``start``, after ``stop`` or death)."""
        return self._thread is not None and self._thread.is_alive() and self.failure is None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._supervise, name="clickhouse-sink", daemon=True)
        self._thread.start()
        self.lag.start()

    def _supervise(self) -> None:
        try:
            self.sink.run(self._stop)
        except BaseException as exc:
            self.failure = exc
            log.critical(
                "the ClickHouse sink died; nothing is written until serve is restarted",
                exc_info=exc,
            )

    def stop(self) -> None:
        self.lag.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
