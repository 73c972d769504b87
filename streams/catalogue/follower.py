"""Each process's copy of the petition catalogue, followed from the ``petitions`` topic.

The catalogue is small, so every worker, intake and API process holds all of it. It is
loaded completely before a worker starts consuming (so no event is judged
``unknown_petition`` for want of a catalogue still loading), then followed in a
background thread. A Faust GlobalTable over our own Avro topic was the first
choice, but faust-streaming 0.15's assignor stalled on it (docs/exactly-once.md).
A process starts it before it needs it (the worker before consuming, the intake and
``serve`` before they listen) and passes it to what reads it.

``fresh_as_of`` says up to when the copy is complete: every petition Kafka had logged
by then is in it. The validate agent waits for it (``ensure_fresh``) before it calls
a submission's petition unknown, so a petition published a moment before its first
signatures never rejects them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from confluent_kafka import KafkaException

from streams.catalogue.store import CatalogueReader, Petition, window
from streams.core.settings import Settings
from streams.rules.petitions import PetitionWindow

log = logging.getLogger(__name__)

#: How often ``known`` looks whether the copy caught up (the follower polls every 0.1 s).
FRESHNESS_CHECK_SECONDS = 0.02


class PetitionLookup:
    """``lookup(petition_id)`` -> the petition's signing window, or None; ``get`` and
    ``all`` give the whole records (for the API)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._windows: dict[str, PetitionWindow] = {}
        self._petitions: dict[str, Petition] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Seconds since the epoch: every record logged before then is applied.
        self.fresh_as_of = 0.0
        self._fresher = threading.Condition()

    def __call__(self, petition_id: str) -> PetitionWindow | None:
        return self._windows.get(petition_id)

    def get(self, petition_id: str) -> Petition | None:
        return self._petitions.get(petition_id)

    def all(self) -> dict[str, Petition]:
        return self._petitions

    async def known(self, petition_id: str, timeout: float = 5.0) -> Petition | None:
        """The petition, or None once the copy holds everything logged before the
        call and still has no such petition: a petition added a moment ago is found,
        not answered 404. Waits on the event loop (up to ``timeout``), holding no
        thread, so a flood of made-up ids cannot starve the API's queries."""
        petition = self._petitions.get(petition_id)
        if petition is not None:
            return petition
        asked_at = time.time()
        deadline = time.monotonic() + timeout
        while self.fresh_as_of < asked_at and time.monotonic() < deadline:
            if self._thread is None or not self._thread.is_alive():
                break
            await asyncio.sleep(FRESHNESS_CHECK_SECONDS)
        return self._petitions.get(petition_id)

    def ensure_fresh(self, logged_at: float, timeout: float = 5.0) -> bool:
        """Wait (up to ``timeout``) until the copy holds everything logged by
        ``logged_at``; True if it does. Returns at once in the usual case."""
        deadline = time.monotonic() + timeout
        with self._fresher:
            while self.fresh_as_of < logged_at:
                if self._thread is None or not self._thread.is_alive():
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._fresher.wait(left)
        return True

    def start(self) -> None:
        reader = CatalogueReader(self.settings)
        started = time.time()
        self._publish(reader.load())
        self._mark_fresh(started)
        log.info("catalogue loaded: %d petitions", len(self._windows))
        self._thread = threading.Thread(
            target=self._follow, args=(reader,), name="catalogue", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _publish(self, petitions: dict[str, Petition]) -> None:
        # Swap whole mappings: readers on the event loop never see one half-built.
        self._windows = {pid: window(p) for pid, p in petitions.items()}
        self._petitions = dict(petitions)

    def _mark_fresh(self, as_of: float) -> None:
        with self._fresher:
            self.fresh_as_of = as_of
            self._fresher.notify_all()

    def _follow(self, reader: CatalogueReader) -> None:
        try:
            while not self._stop.is_set():
                checked = time.time()
                try:
                    if reader.poll(0.1):
                        self._publish(reader.petitions)
                        log.info("catalogue updated: %d petitions", len(self._windows))
                    if reader.caught_up():
                        self._mark_fresh(checked)
                except KafkaException as exc:  # a broker hiccup: try again, stay alive
                    log.warning("catalogue follower: %s; retrying in 1 s", exc)
                    time.sleep(1)
        finally:
            reader.close()
