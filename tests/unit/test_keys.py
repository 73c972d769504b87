"""Key formats: one signer's submissions share a bucket, a petition spreads over all
buckets, and each key parses back into what it was built from."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from streams.rules.keys import (
    SUBMISSION_BUCKETS,
    DedupeKey,
    parse_signer_key_key,
    petition_of_key,
    signer_key_key,
    submission_key_for,
)

DIGEST = hmac.new(b"k", b"li@example.org", hashlib.sha256).hexdigest()


def test_every_spelling_of_one_address_gets_the_same_key() -> None:
    spellings = ["Ana.X1@Gmail.com", " ana.x1+petitions@googlemail.com", "anax1@gmail.com"]
    assert len({submission_key_for("syria-icc", s) for s in spellings}) == 1


def test_a_submission_key_is_the_petition_and_a_bucket() -> None:
    petition, bucket = submission_key_for("syria-icc", "li@example.org").decode().split("/")
    assert petition == "syria-icc"
    assert 0 <= int(bucket) < SUBMISSION_BUCKETS


def test_one_petition_spreads_over_every_bucket() -> None:
    keys = {submission_key_for("p", f"person{i}@example.org") for i in range(5_000)}
    assert len(keys) == SUBMISSION_BUCKETS


def test_an_unreadable_address_still_gets_a_key() -> None:
    assert submission_key_for("p", "no-at-sign").startswith(b"p/")


def test_the_petition_of_a_key_is_the_part_before_the_slash() -> None:
    assert petition_of_key(b"syria-icc/17") == "syria-icc"
    assert petition_of_key(b"syria-icc") == "syria-icc"  # older producers
    assert petition_of_key(None) == ""


def test_a_dedupe_key_travels_as_the_petition_and_the_hex_digest() -> None:
    assert DedupeKey("syria-icc", DIGEST).encode() == f"syria-icc:{DIGEST}".encode()


def test_in_the_dedupe_table_it_holds_the_binary_digest() -> None:
    key = DedupeKey("syria-icc", DIGEST).table_key()
    assert key == b"syria-icc:" + bytes.fromhex(DIGEST)
    assert DedupeKey.petition_of_table_key(key) == "syria-icc"


def test_a_dedupe_key_parses_back_into_its_parts() -> None:
    assert DedupeKey.parse(f"syria-icc:{DIGEST}".encode()) == DedupeKey("syria-icc", DIGEST)


@pytest.mark.parametrize("raw", [b"syria-icc", b"syria-icc:abc", b"p:" + b"z" * 64, b"\xff"])
def test_what_is_not_a_dedupe_key_does_not_parse(raw: bytes) -> None:
    with pytest.raises(ValueError):
        DedupeKey.parse(raw)


def test_the_petition_of_an_unreadable_dedupe_key_is_the_part_before_the_last_colon() -> None:
    assert DedupeKey.petition_of(b"syria-icc:abc") == "syria-icc"
    assert DedupeKey.petition_of(b"\xff:abc") == "\ufffd"
    assert DedupeKey.petition_of(None) == ""


def test_a_signer_keys_key_is_the_dedupe_key_and_the_key_id() -> None:
    dedupe = DedupeKey("p-1", "ab" * 32)
    raw = signer_key_key(dedupe, "0123456789abcdef")
    assert raw == b"p-1:" + b"ab" * 32 + b"/0123456789abcdef"
    assert parse_signer_key_key(raw) == (dedupe, "0123456789abcdef")


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00tick",  # the ticker's record
        b"p-1:" + b"ab" * 32,  # no key id
        b"p-1:" + b"ab" * 32 + b"/xyz",  # not a key id
        b"p-1:short/0123456789abcdef",  # not an email hash
    ],
)
def test_anything_else_is_not_a_signer_keys_key(raw: bytes) -> None:
    with pytest.raises(ValueError):
        parse_signer_key_key(raw)
