"""A process's followed copy of ``keys.signers``, which opens a signer's data key when
asked: the mailer (to address a confirmation), the export (to print a name) and the
intake (to reuse a signer's key) hold one; the worker never does, since counting needs
no personal data (docs/privacy.md)."""

from __future__ import annotations

from schemas.sealed import DataKey, MasterKey, unwrap_key
from streams.core.errors import KeyErased, SealBroken, TopicError
from streams.core.following import CompactedReader, Following
from streams.core.settings import Settings
from streams.core.topicspecs import SIGNER_KEYS
from streams.rules.keys import DedupeKey
from streams.signerkeys.keyring import Keyring, WrappedKey


class SignerKeys(Following):
    """``data_key(dedupe_key, key_id)``, or ``KeyErased``; started before use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.master = MasterKey.from_secret(settings.master_key_id, settings.master_secret)
        self.keyring = Keyring()
        super().__init__("signer-keys", self._reader)

    def _reader(self) -> CompactedReader:
        return CompactedReader(
            self.settings,
            self.settings.topic(SIGNER_KEYS.name),
            self.keyring.apply,
            group="signer-keys-reader",
            missing=TopicError,
        )

    def data_key(self, petition_id: str, key_id: str) -> DataKey:
        """The data key a sealed record of ``petition_id`` names; ``KeyErased`` once
        it is gone, ``SealBroken`` if it was wrapped under another master key."""
        wrapped = self.keyring.by_id(petition_id, key_id)
        if wrapped is None:
            raise KeyErased(f"no key {key_id} for a signer of {petition_id}")
        return self._unwrap(wrapped)

    def any_key(self, dedupe_key: DedupeKey) -> DataKey | None:
        """One of the signer's keys for the petition that this process can open (to
        seal with again), if any: a key under another master key is left alone."""
        for wrapped in self.keyring.keys_of(dedupe_key):
            if wrapped.master_key_id == self.master.key_id:
                try:
                    return self._unwrap(wrapped)
                except SealBroken:  # the same id, another secret: make a new key
                    continue
        return None

    def _unwrap(self, wrapped: WrappedKey) -> DataKey:
        if wrapped.master_key_id != self.master.key_id:
            raise SealBroken(
                f"key {wrapped.key_id} is wrapped under master key {wrapped.master_key_id}, "
                f"this process holds {self.master.key_id}"
            )
        dedupe = wrapped.dedupe_key
        return unwrap_key(
            self.master, wrapped.wrapped, dedupe.petition_id, dedupe.email_hash, wrapped.key_id
        )
