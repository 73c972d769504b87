"""Bytes that are not our messages give a typed MalformedMessage, never a crash."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import AvroCodec
from streams.core.errors import (
    BadMarker,
    CountersignError,
    IncompatibleSchema,
    MalformedMessage,
    TruncatedMessage,
    UnknownFingerprint,
    UnparseableBody,
)

CODEC = AvroCodec("SignatureSubmitted")
VALID = CODEC.encode(
    {
        "signature_id": "s",
        "petition_id": "p",
        "full_name": "Li Wei 李伟",
        "email": "li@example.cn",
        "country": "CN",
        "consent_to_publish_name": True,
        "submitted_at": datetime(2026, 5, 1, tzinfo=UTC),
        "source": "web-form",
    }
)


def test_garbage_is_a_bad_marker() -> None:
    with pytest.raises(BadMarker, match="not the Avro marker"):
        CODEC.decode(b'{"json": "is not avro"}')


def test_a_message_shorter_than_the_header_is_truncated() -> None:
    with pytest.raises(TruncatedMessage, match="shorter than the 10-byte"):
        CODEC.decode(VALID[:7])


def test_a_body_cut_short_is_truncated() -> None:
    with pytest.raises(TruncatedMessage, match="body ends early"):
        CODEC.decode(VALID[:-3])


def test_an_unknown_fingerprint_is_named_in_the_error() -> None:
    unknown = VALID[:2] + bytes(8) + VALID[10:]
    with pytest.raises(UnknownFingerprint, match="0000000000000000"):
        CODEC.decode(unknown)


def test_trailing_bytes_are_unparseable() -> None:
    with pytest.raises(UnparseableBody, match="2 bytes left over"):
        CODEC.decode(VALID + b"\x00\x00")


def test_a_record_of_another_type_is_incompatible() -> None:
    petition = AvroCodec("Petition").encode(
        {
            "petition_id": "p",
            "title": "t",
            "opens_at": datetime(2026, 1, 1, tzinfo=UTC),
            "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
        }
    )
    with pytest.raises(IncompatibleSchema, match=r"a Petition v\d+ record"):
        CODEC.decode(petition)


def test_a_bad_union_branch_is_unparseable() -> None:
    # postal_code's union index sits right after country "CN" (length byte 04 + 2 bytes).
    at = VALID.index(b"\x04CN") + 3
    corrupted = VALID[:at] + b"\x0a" + VALID[at + 1 :]  # branch 5 of a 2-branch union
    with pytest.raises(MalformedMessage):
        CODEC.decode(corrupted)


def test_every_malformed_error_is_a_countersign_error_and_a_value_error() -> None:
    for error in (BadMarker, TruncatedMessage, UnknownFingerprint, UnparseableBody):
        assert issubclass(error, CountersignError)
        assert issubclass(error, ValueError)
    assert issubclass(TruncatedMessage, EOFError)
    assert issubclass(UnknownFingerprint, LookupError)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_raise_anything_but_malformed(data: bytes) -> None:
    with contextlib.suppress(MalformedMessage):
        CODEC.decode(data)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=120))
def test_random_bodies_after_a_valid_header_never_raise_anything_but_malformed(
    body: bytes,
) -> None:
    with contextlib.suppress(MalformedMessage):
        CODEC.decode(VALID[:10] + body)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=10, max_value=len(VALID) - 1), st.integers(0, 255))
def test_flipping_any_body_byte_is_read_or_malformed(index: int, value: int) -> None:
    mutated = VALID[:index] + bytes([value]) + VALID[index + 1 :]
    with contextlib.suppress(MalformedMessage):
        CODEC.decode(mutated)


def test_a_body_that_is_not_utf8_is_described_without_quoting_it() -> None:
    name = "Li Wei 李伟".encode()
    spoiled = VALID.replace(name, name[:-1] + b"\xff")  # a UTF-8 sequence cut short
    assert spoiled != VALID
    with pytest.raises(UnparseableBody) as caught:
        CODEC.decode(spoiled)
    assert "not UTF-8" in caught.value.detail
    assert "Li Wei" not in caught.value.detail
