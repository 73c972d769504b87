"""Key formats: one signer's submissions share a bucket, a petition spreads over all
buckets, and each key parses back into what it was built from."""

from __future__ import annotations

import hashlib
import hmac

from streams.rules.keys import (
    SUBMISSION_BUCKETS,
    dedupe_key,
    parse_dedupe_key,
    petition_of_dedupe_key,
    petition_of_key,
    petition_of_winner_key,
    submission_key_for,
    winner_key,
)


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


def test_a_winner_key_holds_the_petition_and_the_binary_digest() -> None:
    digest = hmac.new(b"k", b"li@example.org", hashlib.sha256).hexdigest()
    key = winner_key("syria-icc", digest)
    assert len(key) == len("syria-icc:") + 32
    assert petition_of_winner_key(key) == "syria-icc"
    assert dedupe_key("syria-icc", digest) == f"syria-icc:{digest}"


def test_a_dedupe_key_parses_back_into_its_parts() -> None:
    digest = hmac.new(b"k", b"li@example.org", hashlib.sha256).hexdigest()
    assert parse_dedupe_key(dedupe_key("syria-icc", digest).encode()) == ("syria-icc", digest)


def test_the_petition_of_an_unreadable_dedupe_key_is_the_part_before_the_last_colon() -> None:
    assert petition_of_dedupe_key(b"syria-icc:abc") == "syria-icc"
    assert petition_of_dedupe_key(b"\xff:abc") == "\ufffd"
    assert petition_of_dedupe_key(None) == ""
