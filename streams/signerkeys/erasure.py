"""Erasing a signer (``countersign erase``, ``POST /ops/erasures``; docs/privacy.md).

An erasure deletes every data key the signer holds (for one petition or all): a
tombstone on keys.signers per key, which every followed copy applies at once and
compaction removes from the brokers' disks within ``erasure_bound_seconds``. What the
keys sealed (the audit log's records, ClickHouse's rows, the outbox, exports made
later) can no longer be read; the signatures themselves, and every count, stay. The
erasure itself goes on privacy.erasures: who asked, when, why, which keys; never the
address.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from schemas.codec import codec
from streams.core import kafka
from streams.core.errors import KafkaUnavailable, PublishFailed
from streams.core.settings import Settings
from streams.core.topicspecs import ERASURES
from streams.rules.keys import DedupeKey
from streams.rules.sealing import key_scope_hash
from streams.signerkeys.keyring import Keyring, WrappedKey
from streams.signerkeys.store import SignerKeys
from streams.signerkeys.writer import KeyWriter, erasure_bound_seconds

log = logging.getLogger(__name__)

Reason = Literal["request", "withdrawal", "retention"]
#: How long an erasure waits for this copy of keys.signers to hold every key written
#: before it was asked (a key made a moment ago must not be missed).
FRESHNESS_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Erased:
    erasure_id: str
    keys: list[WrappedKey]
    #: By when no broker's disk holds the erased keys any more.
    gone_by: datetime

    @property
    def petitions(self) -> list[str]:
        return sorted({key.dedupe_key.petition_id for key in self.keys})


def signer_hashes(settings: Settings, email: str) -> list[str]:
    """The hashes a signer's keys may be filed under: under the current email-hash
    key and every previous one (keys made before a rotation)."""
    keys = [settings.hash_key, *(key for _, key in settings.previous_hash_keys)]
    return sorted({key_scope_hash(email, key) for key in keys})


def keys_of_signer(
    keyring: Keyring, hashes: list[str], petition_id: str | None = None
) -> list[WrappedKey]:
    """Every key of these hashes, for one petition or all."""
    found: list[WrappedKey] = []
    for email_hash in hashes:
        for petition in keyring.petitions_of(email_hash):
            if petition_id in (None, petition):
                found += keyring.keys_of(DedupeKey(petition, email_hash))
    return found


class Eraser:
    """Erases signers through one followed copy of keys.signers and one writer."""

    def __init__(self, settings: Settings, keys: SignerKeys, writer: KeyWriter) -> None:
        self.settings = settings
        self.keys = keys
        self.writer = writer
        self._producer = kafka.producer(settings)

    def ensure_fresh(self) -> None:
        """This copy holds every key written before now, or ``KafkaUnavailable``: an
        erasure must not miss a key made a moment ago (asking again is safe)."""
        if not self.keys.ensure_fresh(datetime.now(UTC).timestamp(), FRESHNESS_TIMEOUT_SECONDS):
            raise KafkaUnavailable("the copy of keys.signers is not up to date; try again")

    def find(self, email: str, petition_id: str | None = None) -> list[WrappedKey]:
        """The keys an erasure of ``email`` would delete (nothing is written)."""
        self.ensure_fresh()
        return keys_of_signer(self.keys.keyring, signer_hashes(self.settings, email), petition_id)

    def erase(
        self,
        email: str,
        *,
        petition_id: str | None,
        reason: Reason,
        requested_by: str,
        detail: str | None = None,
    ) -> Erased:
        """Tombstone every key of the signer, then record the erasure; Kafka has both
        when this returns (``PublishFailed`` otherwise: asking again is safe)."""
        found = self.find(email, petition_id)
        return self.erase_keys(
            found,
            petition_id=petition_id,
            reason=reason,
            requested_by=requested_by,
            detail=detail,
        )

    def erase_signer(
        self, signer: DedupeKey, *, reason: Reason, requested_by: str, detail: str | None = None
    ) -> Erased:
        """Erase the keys of one signer of one petition, named by its dedupe key (a
        withdrawal link names the signer so: it carries no address)."""
        self.ensure_fresh()
        return self.erase_keys(
            self.keys.keyring.keys_of(signer),
            petition_id=signer.petition_id,
            reason=reason,
            requested_by=requested_by,
            detail=detail,
        )

    def erase_keys(
        self,
        found: list[WrappedKey],
        *,
        petition_id: str | None,
        reason: Reason,
        requested_by: str,
        detail: str | None = None,
    ) -> Erased:
        """Tombstone these keys and record the erasure (retention erases a petition's
        keys without an address)."""
        now = datetime.now(UTC)
        self.writer.erase_many((key.dedupe_key, key.key_id) for key in found)
        signers = len({key.dedupe_key for key in found})
        erasure_id = str(uuid.uuid4())
        record = {
            "erasure_id": erasure_id,
            "requested_at": now,
            "requested_by": requested_by,
            "reason": reason,
            "detail": detail,
            "petition_id": petition_id,
            "keys": [
                {
                    "petition_id": key.dedupe_key.petition_id,
                    "email_hash": key.dedupe_key.email_hash,
                    "key_id": key.key_id,
                }
                for key in found
            ],
        }
        self._record(erasure_id, codec("Erasure").encode(record))
        gone_by = now + timedelta(seconds=erasure_bound_seconds(self.settings))
        log.info(
            "erasure %s (%s, by %s): %d keys of %d signers; off every broker's disk by %s",
            erasure_id,
            reason,
            requested_by,
            len(found),
            signers,
            gone_by.isoformat(timespec="seconds"),
        )
        return Erased(erasure_id, found, gone_by)

    def _record(self, erasure_id: str, value: bytes) -> None:
        errors: list[str] = []
        self._producer.produce(
            self.settings.topic(ERASURES.name),
            value,
            erasure_id.encode(),
            on_delivery=kafka.failures_into(errors),
        )
        if self._producer.flush(30) or errors:
            raise PublishFailed(
                f"Kafka did not take erasure {erasure_id}: {errors or 'timed out'} "
                "(the keys are erased; asking again records it)",
                possibly_persisted=True,
            )
