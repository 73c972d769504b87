"""The petition catalogue: Petition records on the compacted ``petitions`` topic.

The CLI writes it with confluent-kafka; every process follows it with a plain consumer
(``follower.PetitionLookup``).
Reading it back here (``read_catalogue``) scans the compacted topic from the start
to the high-water mark, which is cheap: one record per petition survives compaction.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.codec import codec
from streams.core import kafka
from streams.core.errors import CatalogueError, MalformedMessage
from streams.core.following import CompactedReader
from streams.core.settings import Settings
from streams.core.topicspecs import PETITIONS
from streams.rules.petitions import Confirmation, PetitionWindow

Petition = dict[str, Any]
#: Ten years: a longer retention is a typo, not a policy.
MAX_RETAIN_NAMES_DAYS = 3653
PETITION_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise CatalogueError(f"{value!r}: give a time zone, e.g. 2026-01-01T00:00:00Z")
    return moment.astimezone(UTC)


def new_petition(
    petition_id: str,
    title: str,
    *,
    opens_at: str | datetime,
    closes_at: str | datetime | None = None,
    description: str | None = None,
    thresholds: list[int] | None = None,
    confirmation: str = Confirmation.EMAIL,
    retain_names_days: int | None = None,
    now: datetime,
) -> Petition:
    """A validated Petition record (ids are slugs: they appear in URLs and keys)."""
    if not PETITION_ID.match(petition_id):
        raise CatalogueError(
            f"petition id {petition_id!r}: use 1-100 lower-case letters, digits, '.', '_', '-'"
        )
    if not title.strip():
        raise CatalogueError("a petition needs a title")
    opens = parse_time(opens_at)
    closes = parse_time(closes_at)
    assert opens is not None
    if closes is not None and closes <= opens:
        raise CatalogueError(f"closes_at {closes} is not after opens_at {opens}")
    if confirmation not in set(Confirmation):
        choices = ", ".join(Confirmation)
        raise CatalogueError(f"confirmation {confirmation!r}: choose one of {choices}")
    if retain_names_days is not None and not 0 <= retain_names_days <= MAX_RETAIN_NAMES_DAYS:
        raise CatalogueError(
            f"retain_names_days {retain_names_days}: give 0 to {MAX_RETAIN_NAMES_DAYS} "
            "(days after closing that signers' names are kept)"
        )
    return {
        "petition_id": petition_id,
        "title": title.strip(),
        "description": description,
        "opens_at": opens,
        "closes_at": closes,
        "thresholds": sorted(thresholds or []),
        "confirmation": str(confirmation),
        "retain_names_days": retain_names_days,
        "updated_at": now,
    }


def petition_from_file(path: Path, *, now: datetime, confirmation: str | None = None) -> Petition:
    """The petition a JSON file describes, with the defaults of ``petitions add``'s
    flags for what it leaves out (``opens_at``: now; ``confirmation``: email);
    ``confirmation`` overrides the file's."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogueError(f"cannot read petition file {path}: {exc}") from exc
    try:
        return new_petition(
            data["petition_id"],
            data["title"],
            opens_at=data.get("opens_at") or now,
            closes_at=data.get("closes_at"),
            description=data.get("description"),
            thresholds=data.get("thresholds"),
            confirmation=confirmation or data.get("confirmation", Confirmation.EMAIL),
            retain_names_days=data.get("retain_names_days"),
            now=now,
        )
    except KeyError as exc:
        raise CatalogueError(f"{path}: missing field {exc}") from exc


def window(petition: Petition) -> PetitionWindow:
    return PetitionWindow(
        petition["petition_id"],
        petition["opens_at"],
        petition["closes_at"],
        confirmation_of(petition),
    )


def confirmation_of(petition: Petition) -> Confirmation:
    """A petition's policy; one this version does not know is treated as ``email``
    (counting too little until upgraded beats counting the unconfirmed)."""
    value = petition.get("confirmation", Confirmation.NONE)
    try:
        return Confirmation(value)
    except ValueError:
        return Confirmation.EMAIL


def publish_petition(settings: Settings, petition: Petition) -> None:
    """Write a petition and wait until Kafka has it on every in-sync replica."""
    producer = kafka.producer(settings)
    errors: list[str] = []
    producer.produce(
        settings.topic(PETITIONS.name),
        codec("Petition").encode(petition),
        petition["petition_id"].encode(),
        on_delivery=kafka.failures_into(errors),
    )
    if producer.flush(30) != 0 or errors:
        raise CatalogueError(f"Kafka did not take petition {petition['petition_id']}: {errors}")


class CatalogueReader(CompactedReader):
    """Reads the compacted ``petitions`` topic from its start and keeps the latest
    record of every petition (``streams.core.following``)."""

    def __init__(self, settings: Settings, *, timeout: float = 10.0) -> None:
        self.petitions: dict[str, Petition] = {}
        super().__init__(
            settings,
            settings.topic(PETITIONS.name),
            self._apply,
            group="catalogue-reader",
            missing=CatalogueError,
            timeout=timeout,
        )

    def load_petitions(self) -> dict[str, Petition]:
        """Everything up to the current end of the topic."""
        self.load()
        return self.petitions

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if value is None:  # a tombstone deletes the petition (a key that is no UTF-8
            # names no petition we hold: "replace" makes it one no petition has)
            self.petitions.pop((key or b"").decode("utf-8", "replace"), None)
            return
        try:
            petition = codec("Petition").decode(value)
        except MalformedMessage:
            return
        self.petitions[petition["petition_id"]] = petition


def read_catalogue(settings: Settings, *, timeout: float = 10.0) -> dict[str, Petition]:
    """The latest record of every petition, read from the start of the topic."""
    reader = CatalogueReader(settings, timeout=timeout)
    try:
        return reader.load_petitions()
    finally:
        reader.close()
