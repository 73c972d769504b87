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

import logging
import time

from streams.catalogue.store import CatalogueReader, Petition, window
from streams.core.following import Following
from streams.core.settings import Settings
from streams.rules.petitions import PetitionWindow

log = logging.getLogger(__name__)


class PetitionLookup(Following):
    """``lookup(petition_id)`` -> the petition's signing window, or None; ``get`` and
    ``all`` give the whole records (for the API)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._windows: dict[str, PetitionWindow] = {}
        self._petitions: dict[str, Petition] = {}
        self._reader: CatalogueReader | None = None
        super().__init__("catalogue", self._open_reader)

    def _open_reader(self) -> CatalogueReader:
        self._reader = CatalogueReader(self.settings)
        return self._reader

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
        await self.fresh_since(time.time(), timeout)
        return self._petitions.get(petition_id)

    def start(self) -> None:
        super().start()
        log.info("catalogue loaded: %d petitions", len(self._windows))

    def changed(self) -> None:
        # Swap whole mappings: readers on the event loop never see one half-built.
        petitions = self._reader.petitions if self._reader is not None else {}
        updated = self.following  # not the first load
        self._windows = {pid: window(p) for pid, p in petitions.items()}
        self._petitions = dict(petitions)
        if updated:
            log.info("catalogue updated: %d petitions", len(self._windows))
