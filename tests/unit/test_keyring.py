"""What the followed copy of keys.signers holds as records apply (``Keyring``)."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.codec import codec
from streams.rules.keys import DedupeKey, signer_key_key
from streams.signerkeys.keyring import Keyring

SIGNER = DedupeKey("p1", "ab" * 32)
KEY_ID = "0123456789abcdef"


def record(dedupe: DedupeKey = SIGNER, key_id: str = KEY_ID, wrapped: bytes = b"w") -> bytes:
    return codec("SignerKey").encode(
        {
            "petition_id": dedupe.petition_id,
            "email_hash": dedupe.email_hash,
            "key_id": key_id,
            "master_key_id": "m1",
            "wrapped": wrapped,
            "created_at": datetime(2026, 12, 6, tzinfo=UTC),
        }
    )


def test_a_key_record_adds_the_key() -> None:
    ring = Keyring()
    ring.apply(signer_key_key(SIGNER, KEY_ID), record())
    held = ring.get(SIGNER, KEY_ID)
    assert held is not None and (held.wrapped, held.master_key_id) == (b"w", "m1")


def test_a_tombstone_removes_the_key_and_the_petition_from_the_hash() -> None:
    ring = Keyring()
    ring.apply(signer_key_key(SIGNER, KEY_ID), record())
    ring.apply(signer_key_key(SIGNER, KEY_ID), None)
    assert (ring.get(SIGNER, KEY_ID), ring.petitions_of(SIGNER.email_hash), len(ring)) == (
        None,
        [],
        0,
    )


def test_a_signer_may_hold_two_keys_for_one_petition() -> None:
    ring = Keyring()
    other = "fedcba9876543210"
    ring.apply(signer_key_key(SIGNER, KEY_ID), record())
    ring.apply(signer_key_key(SIGNER, other), record(key_id=other))
    ring.apply(signer_key_key(SIGNER, KEY_ID), None)
    assert [k.key_id for k in ring.keys_of(SIGNER)] == [other]


def test_the_petitions_of_a_hash_are_every_petition_with_a_key() -> None:
    ring = Keyring()
    for petition in ("p2", "p1"):
        signer = DedupeKey(petition, SIGNER.email_hash)
        ring.apply(signer_key_key(signer, KEY_ID), record(signer))
    assert ring.petitions_of(SIGNER.email_hash) == ["p1", "p2"]


def test_the_tickers_records_are_ignored() -> None:
    ring = Keyring()
    ring.apply(b"\x00tick", b"")
    assert len(ring) == 0


def test_an_unreadable_record_is_no_key() -> None:
    ring = Keyring()
    ring.apply(signer_key_key(SIGNER, KEY_ID), b"not avro")
    assert (ring.get(SIGNER, KEY_ID), ring.by_id("p1", KEY_ID), ring.keys_of(SIGNER)) == (
        None,
        None,
        [],
    )


def test_an_unreadable_record_replaces_the_key_its_kafka_key_held() -> None:
    # As compaction would: the topic keeps the last record of each Kafka key.
    ring = Keyring()
    ring.apply(signer_key_key(SIGNER, KEY_ID), record())
    ring.apply(signer_key_key(SIGNER, KEY_ID), b"not avro")
    assert ring.get(SIGNER, KEY_ID) is None


def test_a_record_under_another_signers_kafka_key_is_ignored() -> None:
    ring = Keyring()
    other = DedupeKey("p9", "cd" * 32)
    ring.apply(signer_key_key(other, KEY_ID), record())  # the record names SIGNER
    assert (ring.get(other, KEY_ID), ring.get(SIGNER, KEY_ID), ring.keys_of(other)) == (
        None,
        None,
        [],
    )
    assert ring.by_id("p9", KEY_ID) is None


def test_a_petitions_keys_are_every_signers_and_no_other_petitions() -> None:
    ring = Keyring()
    other_signer = DedupeKey("p1", "cd" * 32)
    other_petition = DedupeKey("p2", SIGNER.email_hash)
    ring.apply(signer_key_key(SIGNER, KEY_ID), record())
    ring.apply(signer_key_key(other_signer, "2" * 16), record(other_signer, "2" * 16))
    ring.apply(signer_key_key(other_petition, "3" * 16), record(other_petition, "3" * 16))
    held = {(key.dedupe_key, key.key_id) for key in ring.keys_of_petition("p1")}
    assert held == {(SIGNER, KEY_ID), (other_signer, "2" * 16)}


def test_a_record_under_another_signer_with_the_same_key_id_leaves_the_first_key_alone() -> None:
    ring = Keyring()
    other = DedupeKey("p1", "cd" * 32)
    ring.apply(signer_key_key(SIGNER, KEY_ID), record())
    ring.apply(signer_key_key(other, KEY_ID), b"not avro")
    held = ring.by_id("p1", KEY_ID)
    assert held is not None and held.dedupe_key == SIGNER
    assert [key.dedupe_key for key in ring.keys_of_petition("p1")] == [SIGNER]
    ring.apply(signer_key_key(other, KEY_ID), None)  # its tombstone
    assert ring.by_id("p1", KEY_ID) == held
