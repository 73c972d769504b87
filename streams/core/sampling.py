"""Values too slow to read while someone waits, read in the background on an interval.

A consumer group's lag takes Kafka round trips: milliseconds when Kafka is up, a
5-second timeout when it is down. Read at scrape time, inside ``/metrics`` (whose
collectors run on the event loop), it stalled ``countersign serve``'s whole event loop
for those 5 seconds, every scrape. A ``Sampler`` reads it in a thread of its own;
``/metrics`` and ``/healthz`` only render the latest ``Sample``, which says how old it
is, so a stale number is visible as stale instead of being waited for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Sample(Generic[T]):
    """The last value read successfully (None before the first), when it was read
    (``time.monotonic()``), and why the latest attempt failed (None if it did not)."""

    value: T | None = None
    measured_at: float | None = None
    error: str | None = None

    def age(self, now: float | None = None) -> float | None:
        """Seconds since ``value`` was read; None if it never was."""
        if self.measured_at is None:
            return None
        return (time.monotonic() if now is None else now) - self.measured_at


class Sampler(Generic[T]):
    """Calls ``measure`` in a daemon thread every ``interval`` seconds (the first time
    at ``start``); ``latest`` is what it found, read without waiting."""

    def __init__(self, name: str, measure: Callable[[], T], interval: float) -> None:
        self.name = name
        self.interval = interval
        self._measure = measure
        self._latest: Sample[T] = Sample()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def latest(self) -> Sample[T]:
        return self._latest  # one reference, replaced whole: no lock needed

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def sample_now(self) -> Sample[T]:
        """One reading, in the caller's thread; the thread calls it on its interval."""
        previous = self._latest
        try:
            value = self._measure()
        except Exception as exc:  # Kafka down, ...: the last good value stays, marked
            if previous.error is None:
                log.warning(
                    "%s: cannot read it now (%s); retrying in the background", self.name, exc
                )
            self._latest = Sample(previous.value, previous.measured_at, str(exc) or repr(exc))
        else:
            if previous.error is not None:
                log.info("%s: read again", self.name)
            self._latest = Sample(value, time.monotonic())
        return self._latest

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample_now()
            self._stop.wait(self.interval)
