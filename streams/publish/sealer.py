"""Sealing a submission's personal data before it is published (docs/privacy.md).

The publisher that seals needs the email-hash key (to write the dedupe key's hash in
clear) and the master key (to wrap a new signer's data key): a campaign backend that
publishes directly is trusted with both, as the intake is. A signer's key is reused
when this process's copy of keys.signers already holds one for the petition, else a
new one is written, and Kafka has it before the submission is sent.
"""

from __future__ import annotations

import asyncio
from typing import Any

from schemas.codec import codec
from schemas.sealed import DataKey
from streams.core.errors import MalformedMessage
from streams.core.settings import Settings
from streams.rules.keys import DedupeKey
from streams.rules.sealing import SignerFacts, seal_submission, signer_facts
from streams.signerkeys.store import SignerKeys
from streams.signerkeys.writer import KeyWriter

Record = dict[str, Any]


class Sealer:
    """``seal(record)`` -> the SignatureSubmitted v3 record with its personal data
    sealed. ``keys``: a started copy of keys.signers to reuse keys from (optional)."""

    def __init__(
        self, settings: Settings, writer: KeyWriter, keys: SignerKeys | None = None
    ) -> None:
        self.settings = settings
        self.writer = writer
        self.keys = keys

    @classmethod
    def start(cls, settings: Settings) -> Sealer:
        """A sealer with a writer and a followed copy of keys.signers of its own
        (blocking until the copy is loaded); ``close`` stops both."""
        keys = SignerKeys(settings)
        keys.start()
        try:
            return cls(settings, KeyWriter(settings), keys)
        except BaseException:
            keys.stop()
            raise

    def close(self) -> None:
        """Stop the writer (after Kafka answered for every key) and the copy."""
        self.writer.close()
        if self.keys is not None:
            self.keys.stop()

    def __enter__(self) -> Sealer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def facts(self, record: Record) -> SignerFacts:
        return signer_facts(
            record,
            hash_key=self.settings.hash_key,
            hash_key_id=self.settings.email_hash_key_id,
            previous_keys=self.settings.previous_hash_keys,
        )

    def _known_key(self, scope: DedupeKey) -> DataKey | None:
        return self.keys.any_key(scope) if self.keys is not None else None

    def seal_blocking(self, record: Record) -> Record:
        """For a blocking publisher: may wait for Kafka to take a new key."""
        facts = self.facts(record)
        key = self._known_key(facts.key_scope) or self.writer.create(facts.key_scope)
        return seal_submission(record, facts, key)

    def seal_value(self, value: bytes) -> bytes:
        """An encoded submission, sealed (blocking, as ``seal_blocking``); bytes that
        are no readable submission are returned as they are: nothing in them is
        known to be personal, and the worker must still see them as malformed."""
        submitted = codec("SignatureSubmitted")
        try:
            record = submitted.decode(value)
        except MalformedMessage:
            return value
        return submitted.encode(self.seal_blocking(record))

    async def seal(self, record: Record, loop: asyncio.AbstractEventLoop | None = None) -> Record:
        """For the event loop (``loop``, when the caller has it at hand): waits for a
        new key without holding a thread."""
        facts = self.facts(record)
        key = self._known_key(facts.key_scope)
        if key is None:
            key = await self.writer.create_async(facts.key_scope, loop)
        return seal_submission(record, facts, key)
