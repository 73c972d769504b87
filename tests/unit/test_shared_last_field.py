"""``SharedLastField`` gives the very bytes ``AvroCodec.encode`` gives, record by record,
however the last field's value repeats or changes (a petition's cut in RegionalCount)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.codec import SharedLastField, codec
from streams.core.errors import MalformedMessage

AT = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)


def cut(offset: int) -> list[dict[str, Any]]:
    return [
        {
            "home": home,
            "submitted": [{"partition": p, "offset": offset + p, "index": 0} for p in range(3)],
            "confirmations": home,
            "moderations": 0,
        }
        for home in range(3)
    ]


def count(
    country: str, signatures: int, petition_cut: list[dict[str, Any]] | None
) -> dict[str, Any]:
    return {
        "petition_id": "syria-icc",
        "region": "Europe",
        "country": country,
        "signatures": signatures,
        "pending": 1,
        "version": 7,
        "updated_at": AT,
        # A copy: equal values, not the same object, as each country's record holds.
        "cut": copy.deepcopy(petition_cut),
    }


def one_at_a_time(records: list[dict[str, Any]]) -> list[bytes]:
    return [codec("RegionalCount").encode(record) for record in records]


def test_records_that_share_their_last_field_encode_as_each_alone() -> None:
    records = [count(c, n, cut(100)) for n, c in enumerate(["DE", "FR", "PL"])]
    assert SharedLastField("RegionalCount").encode_all(records) == one_at_a_time(records)


def test_a_last_field_that_changes_between_records_is_encoded_again() -> None:
    records = [count("DE", 1, cut(100)), count("FR", 2, cut(200)), count("PL", 3, cut(100))]
    assert SharedLastField("RegionalCount").encode_all(records) == one_at_a_time(records)


def test_a_missing_cut_between_two_equal_ones_is_encoded_as_null() -> None:
    records = [count("DE", 1, cut(100)), count("FR", 2, None), count("PL", 3, cut(100))]
    encoded = SharedLastField("RegionalCount").encode_all(records)
    assert encoded == one_at_a_time(records)
    assert codec("RegionalCount").decode(encoded[1])["cut"] is None


def test_nothing_to_encode_gives_nothing() -> None:
    assert SharedLastField("RegionalCount").encode_all([]) == []


def test_decoding_gives_the_records_the_codec_gives() -> None:
    records = [
        count("DE", 1, cut(100)),
        count("FR", 2, cut(100)),
        count("PL", 3, None),
        count("IT", 4, cut(200)),
        count("ES", 5, cut(100)),
    ]
    encoded = one_at_a_time(records)
    shared = SharedLastField("RegionalCount")
    assert [shared.decode(data) for data in encoded] == [
        codec("RegionalCount").decode(data) for data in encoded
    ]


def test_records_whose_last_field_repeats_share_one_decoded_value() -> None:
    shared = SharedLastField("RegionalCount")
    first, second = (shared.decode(d) for d in one_at_a_time([count("DE", 1, cut(100))] * 2))
    assert first["cut"] is second["cut"]


def test_a_malformed_record_fails_as_the_codec_says() -> None:
    good = one_at_a_time([count("DE", 1, cut(100))])[0]
    shared = SharedLastField("RegionalCount")
    shared.decode(good)
    for bad in (good[:-3], good + b"\x00", b"\xc3\x01" + b"\x00" * 8, b""):
        with pytest.raises(MalformedMessage) as from_codec:
            codec("RegionalCount").decode(bad)
        with pytest.raises(MalformedMessage) as from_shared:
            shared.decode(bad)
        assert str(from_shared.value) == str(from_codec.value)
