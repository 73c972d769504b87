"""Golden bytes of the single-object encoding, checked against the Avro specification
written out here independently of fastavro (Rabin fingerprint, zig-zag varints)."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.codec import AvroCodec, default_registry
from schemas.writes import encode_writes


def rabin_fingerprint_64(data: bytes) -> int:
    """CRC-64-AVRO exactly as the Avro specification's reference code computes it."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def zigzag_varint(n: int) -> bytes:
    """Avro's encoding of int and long: zig-zag, then 7 bits a byte, low first."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def avro_string(s: str) -> bytes:
    raw = s.encode("utf-8")
    return zigzag_varint(len(raw)) + raw


def test_rabin_of_the_null_schema_matches_the_avro_test_vector() -> None:
    # share/test/data/schema-tests.txt in the Avro repository: "null" -> 7195948357588979594
    assert rabin_fingerprint_64(b'"null"') == 7195948357588979594


def test_every_shipped_schema_fingerprint_is_the_rabin_of_its_canonical_form() -> None:
    for name in default_registry().names():
        for schema in default_registry().versions(name):
            expected = rabin_fingerprint_64(schema.canonical_form.encode()).to_bytes(8, "little")
            assert schema.fingerprint == expected, (name, schema.version)


SUBMITTED_AT = datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=UTC)
RECORD = {
    "signature_id": "sig-1",
    "petition_id": "syria-icc",
    "full_name": "Zoë Ĺ",
    "email": "zoe@example.org",
    "country": "fr",
    "postal_code": None,
    "consent_to_publish_name": True,
    "submitted_at": SUBMITTED_AT,
    "source": "web-form",
    "client_ip": "127.0.0.1",
    "user_agent": None,
    "locale": "fr-FR",
}

# Pinned forever: if this changes, old messages in the audit log no longer decode.
GOLDEN_V1_HEX = (
    "c301f697417f694eea3f"  # marker + fingerprint of SignatureSubmitted v1 (LE)
    "0a7369672d31"  # "sig-1"
    "127379726961 2d696363"  # "syria-icc"
    "0e5a6fc3ab20c4b9"  # "Zoë Ĺ"
    "1e7a6f65406578616d706c652e6f7267"  # "zoe@example.org"
    "046672"  # "fr"
    "00"  # postal_code: union branch 0 (null)
    "01"  # consent: true
    "f6d99da9c268"  # submitted_at 1795608000123 ms, zig-zag varint
    "107765622d666f726d"  # "web-form"
    "02123132372e302e302e31"  # client_ip: branch 1, "127.0.0.1"
    "00"  # user_agent: null
    "020a66722d4652"  # locale: branch 1, "fr-FR"
).replace(" ", "")


def hand_encoded_v1() -> bytes:
    millis = int(SUBMITTED_AT.timestamp() * 1000)
    fingerprint = rabin_fingerprint_64(
        default_registry().version("SignatureSubmitted", 1).canonical_form.encode()
    ).to_bytes(8, "little")
    body = b"".join(
        [
            avro_string("sig-1"),
            avro_string("syria-icc"),
            avro_string("Zoë Ĺ"),
            avro_string("zoe@example.org"),
            avro_string("fr"),
            zigzag_varint(0),
            b"\x01",
            zigzag_varint(millis),
            avro_string("web-form"),
            zigzag_varint(1) + avro_string("127.0.0.1"),
            zigzag_varint(0),
            zigzag_varint(1) + avro_string("fr-FR"),
        ]
    )
    return b"\xc3\x01" + fingerprint + body


def test_encoding_matches_a_hand_built_message_byte_for_byte() -> None:
    encoded = AvroCodec("SignatureSubmitted").encode(RECORD, writer_version=1)
    assert encoded == hand_encoded_v1()


def test_encoding_matches_the_pinned_golden_bytes() -> None:
    encoded = AvroCodec("SignatureSubmitted").encode(RECORD, writer_version=1)
    assert encoded.hex() == GOLDEN_V1_HEX


def test_golden_bytes_decode_to_the_record_with_the_new_field_defaulted() -> None:
    decoded = AvroCodec("SignatureSubmitted").decode(bytes.fromhex(GOLDEN_V1_HEX))
    assert decoded == {**RECORD, "referrer": None, "sealed": None}


def test_a_table_writes_record_is_pinned_byte_for_byte() -> None:
    """The dedupe table's changelog holds these forever (a restore reads them all)."""
    fingerprint = default_registry().version("TableWrites", 1).fingerprint
    expected = (
        b"\xc3\x01"
        + fingerprint
        + zigzag_varint(2)  # an array block of two entries
        + zigzag_varint(3)
        + b"k:1"  # key
        + zigzag_varint(1)  # value: union branch 1 (bytes)
        + zigzag_varint(2)
        + b"FR"
        + zigzag_varint(3)
        + b"k:2"
        + zigzag_varint(0)  # value: union branch 0 (null): deleted
        + zigzag_varint(0)  # end of the array
    )
    assert encode_writes([(b"k:1", b"FR"), (b"k:2", None)]) == expected
