"""Sealed personal data and wrapped data keys: the wire formats of crypto-shredding
(docs/privacy.md).

A signer's personal data (``PersonalData``: name, email as typed, postal code, IP,
user agent) is sealed under a **data key** of its own, one per signer and petition
(the dedupe key's scope). The data key is stored only **wrapped** under the master
key, on the compacted ``keys.signers`` topic; the master key comes from settings or a
file, never from the log. Erasing a signer deletes the data key, and every sealed
copy (the audit log, ClickHouse, the outbox, exports) becomes noise, while the counts,
which never needed the clear data, stay what they were.

Both formats are ``version byte | 12-byte nonce | AES-256-GCM ciphertext and tag``.
The associated data binds each to where it belongs, so a blob moved elsewhere does
not open: sealed data to its petition, signature and key id; a wrapped key to its
master key id, petition, email hash and key id.

Pure: no Kafka, no files. The nonce source can be given, for golden-bytes tests only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from schemas.codec import codec
from schemas.randomness import random_bytes
from streams.core.errors import MalformedMessage, SealBroken

#: The first byte of both formats: a later version may change the cipher.
FORMAT_V1 = b"\x01"
NONCE_BYTES = 12
KEY_BYTES = 32
#: A data key's id is this many random bytes, in hex.
KEY_ID_BYTES = 8
TAG_BYTES = 16
#: What a sealed blob or a wrapped key adds to what it holds.
OVERHEAD = len(FORMAT_V1) + NONCE_BYTES + TAG_BYTES

Nonces = Callable[[int], bytes]

_PERSONAL_CONTEXT = b"countersign/personal/v1"
_KEY_CONTEXT = b"countersign/signer-key/v1"
_MASTER_INFO = b"countersign/master-key/v1"


@dataclass(frozen=True)
class MasterKey:
    """The key that wraps every data key. ``key_id`` names it in each wrapped key, so
    that a key wrapped under another is told apart (a rotation would wrap the data
    keys again, never the data; not built yet: docs/privacy.md)."""

    key_id: str
    secret: bytes = field(repr=False)

    @classmethod
    def from_secret(cls, key_id: str, secret: bytes) -> MasterKey:
        """A master key from a configured secret of any length (at least 32 bytes,
        checked by the settings), through HKDF-SHA256: a text secret of the same
        form as the project's other secrets gives a uniformly random AES-256 key."""
        derived = HKDF(algorithm=SHA256(), length=KEY_BYTES, salt=None, info=_MASTER_INFO)
        return cls(key_id, derived.derive(secret))

    def fingerprint(self) -> str:
        """A short name of the key's bytes for logs (not a secret: SHA-256 of it)."""
        return hashlib.sha256(b"fingerprint/" + self.secret).hexdigest()[:12]


@dataclass(frozen=True)
class DataKey:
    """One signer's key for one petition."""

    key_id: str
    secret: bytes = field(repr=False)

    @classmethod
    def new(cls) -> DataKey:
        drawn = random_bytes(KEY_ID_BYTES + KEY_BYTES)
        return cls(drawn[:KEY_ID_BYTES].hex(), drawn[KEY_ID_BYTES:])


def _context(*parts: str | bytes) -> bytes:
    """Associated data from parts that cannot run into each other (NUL-separated;
    none of ours may hold a NUL)."""
    joined = b"\x00".join([p if isinstance(p, bytes) else p.encode("utf-8") for p in parts])
    if joined.count(b"\x00") != len(parts) - 1:
        raise ValueError("a part of the associated data holds a NUL byte")
    return joined


def _encrypt(key: bytes, plaintext: bytes, context: bytes, nonces: Nonces) -> bytes:
    nonce = nonces(NONCE_BYTES)
    return FORMAT_V1 + nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def _decrypt(key: bytes, blob: bytes, context: bytes, what: str) -> bytes:
    if len(blob) < OVERHEAD or blob[:1] != FORMAT_V1:
        raise SealBroken(f"not a {what} of format 1 ({len(blob)} bytes)")
    nonce = blob[1 : 1 + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, blob[1 + NONCE_BYTES :], context)
    except InvalidTag:
        raise SealBroken(
            f"the {what} does not open: another key, another place, or altered"
        ) from None


def wrap_key(
    master: MasterKey,
    data_key: DataKey,
    petition_id: str,
    email_hash: str,
    *,
    nonces: Nonces = random_bytes,
) -> bytes:
    """``data_key`` encrypted under ``master`` for this signer and petition only."""
    context = _context(_KEY_CONTEXT, master.key_id, petition_id, email_hash, data_key.key_id)
    return _encrypt(master.secret, data_key.secret, context, nonces)


def unwrap_key(
    master: MasterKey, wrapped: bytes, petition_id: str, email_hash: str, key_id: str
) -> DataKey:
    """The data key ``wrap_key`` gave; ``SealBroken`` if it was wrapped otherwise."""
    context = _context(_KEY_CONTEXT, master.key_id, petition_id, email_hash, key_id)
    return DataKey(key_id, _decrypt(master.secret, wrapped, context, "wrapped key"))


def seal_personal(
    data_key: DataKey,
    personal: Mapping[str, Any],
    petition_id: str,
    signature_id: str,
    *,
    nonces: Nonces = random_bytes,
) -> bytes:
    """``personal`` (a ``PersonalData`` record) encoded and encrypted, for this
    signature of this petition only."""
    context = _context(_PERSONAL_CONTEXT, petition_id, signature_id, data_key.key_id)
    return _encrypt(data_key.secret, codec("PersonalData").encode(personal), context, nonces)


def open_personal(
    data_key: DataKey, sealed: bytes, petition_id: str, signature_id: str
) -> dict[str, Any]:
    """The ``PersonalData`` record ``seal_personal`` sealed; ``SealBroken`` if the
    blob does not open here or does not hold one."""
    context = _context(_PERSONAL_CONTEXT, petition_id, signature_id, data_key.key_id)
    plaintext = _decrypt(data_key.secret, sealed, context, "sealed record")
    try:
        return dict(codec("PersonalData").decode(plaintext))
    except MalformedMessage as exc:  # opened, so written with this key: not by us
        raise SealBroken(f"the sealed record holds no personal data: {exc.detail}") from None
