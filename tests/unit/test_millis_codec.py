"""``millis_codec``: the same records as ``codec``, their timestamps as milliseconds
since the epoch (what the sink hands ClickHouse), from any writer version."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.codec import AvroCodec, codec, default_registry, millis_codec
from streams.core.errors import MalformedMessage

SUBMITTED = datetime(2026, 3, 1, 9, 30, 15, 123_000, tzinfo=UTC)
#: 2026-03-01T09:30:15.123Z, worked out by hand: 20,513 days after 1970-01-01.
SUBMITTED_MS = (20_513 * 86_400 + 9 * 3_600 + 30 * 60 + 15) * 1_000 + 123

REJECTED = {
    "signature_id": "s-1",
    "petition_id": "p-1",
    "reason": "invalid_email",
    "detail": "no @",
    "email_hash": None,
    "original": None,
    "received_at": SUBMITTED,
    "source_topic": "signatures.submitted",
    "source_partition": 1,
    "source_offset": 7,
}


def test_a_timestamp_decodes_as_milliseconds_since_the_epoch() -> None:
    value = codec("SignatureRejected").encode(REJECTED)
    assert millis_codec("SignatureRejected").decode(value)["received_at"] == SUBMITTED_MS


def test_every_other_field_decodes_as_the_general_codec_decodes_it() -> None:
    value = codec("SignatureRejected").encode(REJECTED)
    general = codec("SignatureRejected").decode(value)
    assert millis_codec("SignatureRejected").decode(value) == general | {
        "received_at": SUBMITTED_MS
    }


def test_an_older_writer_version_is_read_with_milliseconds_too() -> None:
    v1 = AvroCodec("SignatureRejected", reader_version=1)
    value = v1.encode(REJECTED, writer_version=1)
    record = millis_codec("SignatureRejected").decode(value)
    assert record["received_at"] == SUBMITTED_MS
    assert default_registry().version("SignatureRejected").version > 1


def test_a_time_no_datetime_can_hold_is_refused_as_the_general_codec_refuses_it() -> None:
    after_9999 = 253_402_300_800_000  # 10000-01-01T00:00:00Z
    value = codec("SignatureRejected").encode(REJECTED | {"received_at": after_9999})
    with pytest.raises(MalformedMessage):
        codec("SignatureRejected").decode(value)
    with pytest.raises(MalformedMessage, match="received_at"):
        millis_codec("SignatureRejected").decode(value)


def test_the_last_millisecond_of_9999_is_still_a_time() -> None:
    last = 253_402_300_799_999
    value = codec("SignatureRejected").encode(REJECTED | {"received_at": last})
    assert millis_codec("SignatureRejected").decode(value)["received_at"] == last


def test_a_record_with_timestamps_below_its_own_fields_has_no_millis_codec() -> None:
    with pytest.raises(ValueError, match="MailHistory"):
        AvroCodec("MailHistory", epoch_millis=True)
