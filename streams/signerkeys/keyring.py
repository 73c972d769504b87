"""The wrapped keys ``keys.signers`` holds, by signer and petition, as its records
apply: a record adds a key, a tombstone removes it, anything else is ignored."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from schemas.codec import codec
from streams.core.errors import MalformedMessage
from streams.rules.keys import DedupeKey, parse_signer_key_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WrappedKey:
    """One data key as the topic holds it (schemas/avro/SignerKey.v1.avsc)."""

    dedupe_key: DedupeKey
    key_id: str
    master_key_id: str
    wrapped: bytes


class Keyring:
    """Every wrapped key of the topic. Records are applied by one thread; readers
    on others see each key whole (one dict operation each).

    A record is filed by its Kafka key and read (Avro-decoded) only when its key is
    asked for: a process follows every signer's key and opens a few, and decoding
    each on arrival cost the intake and ``serve`` a few % of a core at 1,500
    signatures/s (py-spy). A record that does not read, or that names another
    signer than its Kafka key, is no key when asked for (a warning says why); like
    any record, it replaces what its Kafka key held, as compaction would, but never
    another signer's key that has the same id (``by_id``, which retention reads).
    """

    def __init__(self) -> None:
        self._keys: dict[DedupeKey, dict[str, bytes]] = {}
        self._petitions_of_hash: dict[str, set[str]] = {}
        #: By petition and key id: a sealed record names its key by id, and its
        #: signer's dedupe hash may differ from the hash the key is filed under (an
        #: intake and a worker on either side of an email-hash key rotation).
        self._by_id: dict[tuple[str, str], tuple[DedupeKey, bytes]] = {}

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        try:
            dedupe, key_id = parse_signer_key_key(key or b"")
        except ValueError:  # the ticker's records, or not ours
            return
        if value is None:
            self._remove(dedupe, key_id)
            return
        self._keys.setdefault(dedupe, {})[key_id] = value
        held = self._by_id.get((dedupe.petition_id, key_id))
        if held is None or held[0] == dedupe:  # never another signer's key of that id
            self._by_id[dedupe.petition_id, key_id] = (dedupe, value)
        self._petitions_of_hash.setdefault(dedupe.email_hash, set()).add(dedupe.petition_id)

    def _remove(self, dedupe: DedupeKey, key_id: str) -> None:
        keys = self._keys.get(dedupe)
        if keys is None:
            return
        held = self._by_id.get((dedupe.petition_id, key_id))
        if keys.pop(key_id, None) is not None and held is not None and held[0] == dedupe:
            del self._by_id[dedupe.petition_id, key_id]
        if not keys:
            del self._keys[dedupe]
            petitions = self._petitions_of_hash.get(dedupe.email_hash, set())
            petitions.discard(dedupe.petition_id)
            if not petitions:
                self._petitions_of_hash.pop(dedupe.email_hash, None)

    def get(self, dedupe: DedupeKey, key_id: str) -> WrappedKey | None:
        value = self._keys.get(dedupe, {}).get(key_id)
        return None if value is None else _read(dedupe, key_id, value)

    def by_id(self, petition_id: str, key_id: str) -> WrappedKey | None:
        """The key a sealed record of ``petition_id`` names, whoever it is filed under."""
        held = self._by_id.get((petition_id, key_id))
        return None if held is None else _read(held[0], key_id, held[1])

    def keys_of(self, dedupe: DedupeKey) -> list[WrappedKey]:
        """Every key the signer holds for the petition (usually one)."""
        held = list(self._keys.get(dedupe, {}).items())
        return [key for key_id, value in held if (key := _read(dedupe, key_id, value))]

    def keys_of_petition(self, petition_id: str) -> list[WrappedKey]:
        """Every key of every signer of the petition (retention shreds them all)."""
        held = [
            (dedupe, key_id, value)
            for (petition, key_id), (dedupe, value) in list(self._by_id.items())
            if petition == petition_id
        ]
        return [key for dedupe, key_id, value in held if (key := _read(dedupe, key_id, value))]

    def petitions_of(self, email_hash: str) -> list[str]:
        """The petitions for which ``email_hash`` holds a key."""
        return sorted(self._petitions_of_hash.get(email_hash, ()))

    def __len__(self) -> int:
        return sum(len(keys) for keys in self._keys.values())


def _read(dedupe: DedupeKey, key_id: str, value: bytes) -> WrappedKey | None:
    """The key a record holds, or None (logged) if it does not read or names another
    signer or key than the Kafka key it was filed under."""
    try:
        record = codec("SignerKey").decode(value)
    except MalformedMessage as exc:
        log.warning("keys.signers: unreadable key record skipped (%s)", exc.detail)
        return None
    if (record["petition_id"], record["email_hash"], record["key_id"]) != (
        dedupe.petition_id,
        dedupe.email_hash,
        key_id,
    ):
        log.warning("keys.signers: a key record under another signer's key skipped")
        return None
    return WrappedKey(dedupe, key_id, record["master_key_id"], record["wrapped"])
