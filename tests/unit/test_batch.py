"""SignatureBatch: several submissions in one record of signatures.submitted."""

from __future__ import annotations

import pytest

from schemas.batch import decode_batch, encode_batch, is_batch, items_of
from schemas.codec import AvroCodec, default_registry
from streams.core.errors import MalformedMessage
from tests.unit.test_codec_golden import RECORD, rabin_fingerprint_64, zigzag_varint

ONE = AvroCodec("SignatureSubmitted").encode(RECORD)


def avro_bytes(raw: bytes) -> bytes:
    return zigzag_varint(len(raw)) + raw


def test_a_batch_is_an_array_of_key_and_value_pairs_byte_for_byte() -> None:
    fingerprint = rabin_fingerprint_64(
        default_registry().version("SignatureBatch", 1).canonical_form.encode()
    ).to_bytes(8, "little")
    expected = (
        b"\xc3\x01"
        + fingerprint
        + zigzag_varint(2)  # one array block of two items
        + zigzag_varint(1)  # key: union branch 1 (bytes)
        + avro_bytes(b"syria-icc/042")
        + avro_bytes(ONE)
        + zigzag_varint(0)  # key: union branch 0 (null)
        + avro_bytes(b"x")
        + zigzag_varint(0)  # end of the array
    )
    assert encode_batch([(b"syria-icc/042", ONE), (None, b"x")]) == expected


def test_a_batch_decodes_to_its_items_in_order() -> None:
    items = [(b"p/001", ONE), (None, b"not avro"), (b"p/002", ONE)]
    assert decode_batch(encode_batch(items)) == items


def test_a_single_submission_is_not_a_batch() -> None:
    assert not is_batch(ONE)
    assert not is_batch(None)
    assert not is_batch(b"\xc3\x01")
    assert is_batch(encode_batch([(None, ONE)]))


def test_an_empty_batch_is_malformed() -> None:
    with pytest.raises(MalformedMessage, match="no items"):
        decode_batch(encode_batch([]))


def test_a_cut_batch_is_malformed() -> None:
    raw = encode_batch([(b"p/001", ONE)])
    with pytest.raises(MalformedMessage):
        decode_batch(raw[:-5])


def test_a_record_carries_itself_or_its_batch_items() -> None:
    items = [(b"p/001", ONE), (b"p/002", ONE)]
    assert items_of(b"p/009", ONE) == [(b"p/009", ONE)]
    assert items_of(b"p/009", None) == [(b"p/009", None)]
    assert items_of(None, encode_batch(items)) == items


def test_an_unreadable_batch_is_malformed_wherever_it_is_read() -> None:
    with pytest.raises(MalformedMessage):
        items_of(b"p/001", encode_batch([(b"p/001", ONE)])[:-5])
