"""Sealed personal data and wrapped data keys (``schemas.sealed``): what opens where,
and the bytes, rebuilt here with the cipher directly and a hand-written Avro body."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.codec import default_registry
from schemas.sealed import (
    OVERHEAD,
    DataKey,
    MasterKey,
    open_personal,
    seal_personal,
    unwrap_key,
    wrap_key,
)
from streams.core.errors import CountersignError, SealBroken

PERSON: dict[str, str | None] = {
    "full_name": "Zoë Ångström",
    "email": "Zoe.A+petitions@Example.org",
    "postal_code": "75011",
    "client_ip": "203.0.113.9",
    "user_agent": None,
    "referrer": "https://campaign.example/sign",
}
DATA_KEY = DataKey("00112233aabbccdd", bytes(range(32)))
MASTER = MasterKey.from_secret("m1", b"a master secret of our own, 32 bytes long")
HASH = "ab" * 32


def fixed(nonce: bytes) -> Callable[[int], bytes]:
    """A nonce source that always gives ``nonce``: for pinned bytes only."""
    return lambda size: nonce[:size]


def zigzag_string(text: str) -> bytes:
    data = text.encode()
    return bytes([len(data) * 2]) + data  # short strings: a one-byte zig-zag length


def hkdf_sha256(secret: bytes, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 with no salt, written out."""
    prk = hmac.new(b"\x00" * 32, secret, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()[:length]


def test_a_sealed_record_opens_with_its_key_for_its_signature() -> None:
    sealed = seal_personal(DATA_KEY, PERSON, "p1", "sig-1")
    assert open_personal(DATA_KEY, sealed, "p1", "sig-1") == PERSON


def test_sealing_twice_gives_different_bytes() -> None:
    assert seal_personal(DATA_KEY, PERSON, "p1", "s") != seal_personal(DATA_KEY, PERSON, "p1", "s")


@pytest.mark.parametrize(
    ("key", "petition_id", "signature_id"),
    [
        (DataKey("00112233aabbccdd", bytes(32)), "p1", "sig-1"),  # another key
        (DataKey("ffffffffffffffff", bytes(range(32))), "p1", "sig-1"),  # another key id
        (DATA_KEY, "p2", "sig-1"),  # moved to another petition
        (DATA_KEY, "p1", "sig-2"),  # moved to another signature
    ],
)
def test_a_sealed_record_does_not_open_anywhere_else(
    key: DataKey, petition_id: str, signature_id: str
) -> None:
    sealed = seal_personal(DATA_KEY, PERSON, "p1", "sig-1")
    with pytest.raises(SealBroken):
        open_personal(key, sealed, petition_id, signature_id)


def test_one_altered_byte_breaks_the_seal() -> None:
    sealed = bytearray(seal_personal(DATA_KEY, PERSON, "p1", "sig-1"))
    sealed[-20] ^= 0x01
    with pytest.raises(SealBroken):
        open_personal(DATA_KEY, bytes(sealed), "p1", "sig-1")


def test_a_broken_seal_is_a_countersign_error_and_a_value_error() -> None:
    with pytest.raises(CountersignError) as raised:
        open_personal(DATA_KEY, b"\x01short", "p1", "sig-1")
    assert isinstance(raised.value, ValueError)


def test_a_sealed_record_is_pinned_byte_for_byte() -> None:
    nonce = bytes(range(100, 112))
    body = (
        zigzag_string("Zoë Ångström")
        + zigzag_string("Zoe.A+petitions@Example.org")
        + b"\x02"  # postal_code: union branch 1 (string)
        + zigzag_string("75011")
        + b"\x02"
        + zigzag_string("203.0.113.9")
        + b"\x00"  # user_agent: union branch 0 (null)
        + b"\x02"
        + zigzag_string("https://campaign.example/sign")
    )
    plaintext = b"\xc3\x01" + default_registry().version("PersonalData", 1).fingerprint + body
    context = b"countersign/personal/v1\x00p1\x00sig-1\x0000112233aabbccdd"
    expected = b"\x01" + nonce + AESGCM(DATA_KEY.secret).encrypt(nonce, plaintext, context)
    sealed = seal_personal(DATA_KEY, PERSON, "p1", "sig-1", nonces=fixed(nonce))
    assert sealed == expected
    assert len(sealed) == OVERHEAD + len(plaintext)


def test_a_wrapped_key_unwraps_for_its_signer_and_petition() -> None:
    wrapped = wrap_key(MASTER, DATA_KEY, "p1", HASH)
    assert unwrap_key(MASTER, wrapped, "p1", HASH, DATA_KEY.key_id) == DATA_KEY


@pytest.mark.parametrize(
    ("master", "petition_id", "email_hash", "key_id"),
    [
        (MasterKey.from_secret("m1", b"another master secret, 32 bytes long"), "p1", HASH, None),
        (MasterKey("m2", MASTER.secret), "p1", HASH, None),  # the same bytes, another id
        (MASTER, "p2", HASH, None),
        (MASTER, "p1", "cd" * 32, None),
        (MASTER, "p1", HASH, "ffffffffffffffff"),
    ],
)
def test_a_wrapped_key_unwraps_nowhere_else(
    master: MasterKey, petition_id: str, email_hash: str, key_id: str | None
) -> None:
    wrapped = wrap_key(MASTER, DATA_KEY, "p1", HASH)
    with pytest.raises(SealBroken):
        unwrap_key(master, wrapped, petition_id, email_hash, key_id or DATA_KEY.key_id)


def test_a_wrapped_key_is_pinned_byte_for_byte() -> None:
    nonce = bytes(12)
    context = b"countersign/signer-key/v1\x00m1\x00p1\x00" + HASH.encode() + b"\x0000112233aabbccdd"
    expected = b"\x01" + nonce + AESGCM(MASTER.secret).encrypt(nonce, DATA_KEY.secret, context)
    assert wrap_key(MASTER, DATA_KEY, "p1", HASH, nonces=fixed(nonce)) == expected


def test_the_master_key_is_hkdf_sha256_of_the_configured_secret() -> None:
    secret = b"a master secret of our own, 32 bytes long"
    assert MASTER.secret == hkdf_sha256(secret, b"countersign/master-key/v1")


def test_no_key_shows_its_bytes_when_printed() -> None:
    assert DATA_KEY.secret.hex() not in repr(DATA_KEY)
    assert MASTER.secret.hex() not in repr(MASTER)


def test_a_new_data_key_is_random_with_a_16_hex_digit_id() -> None:
    first, second = DataKey.new(), DataKey.new()
    assert (len(first.secret), len(first.key_id)) == (32, 16)
    assert int(first.key_id, 16) >= 0
    assert first.secret != second.secret and first.key_id != second.key_id


def test_a_nul_in_a_part_of_the_associated_data_is_refused() -> None:
    # "p\x00sig" and "p", "sig" would otherwise be one context: two places, one seal.
    with pytest.raises(ValueError, match="NUL"):
        seal_personal(DATA_KEY, PERSON, "p1\x00sig-1", "x")
    with pytest.raises(ValueError, match="NUL"):
        wrap_key(MASTER, DATA_KEY, "p1", HASH + "\x00")
