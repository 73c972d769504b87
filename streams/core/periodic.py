"""A daemon thread that does one thing every few seconds until stopped (the key
ticker, the retention job): a run that fails as expected is logged, and the next run
tries again; anything else is a bug, and ends the thread with its traceback."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Every:
    """``action()`` every ``interval`` seconds, the first after one interval, between
    ``start`` and ``stop``. A failure of a kind in ``survives`` is logged with
    ``failed`` (a sentence; ``{error}`` and ``{interval}`` are filled in)."""

    def __init__(  # noqa: PLR0917
        self,
        name: str,
        interval: float,
        action: Callable[[], object],
        survives: tuple[type[Exception], ...],
        failed: str,
        join_seconds: float = 5.0,
    ) -> None:
        self.interval = interval
        self.action = action
        self.survives = survives
        self.failed = failed
        self.join_seconds = join_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.join_seconds)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.action()
            except self.survives as exc:
                log.warning(self.failed.format(error=exc, interval=self.interval))
