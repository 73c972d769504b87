"""Every record of every shipped schema version survives encode -> decode."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import SCHEMA_DIR, AvroCodec, default_registry
from tests.strategies import records

SCHEMA_FILES = sorted(SCHEMA_DIR.glob("*.avsc"))


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.stem)
def test_round_trip_through_the_writer_version(path: Any) -> None:
    name, version = path.stem.split(".v")
    schema_json = json.loads(path.read_text())
    codec = AvroCodec(name, reader_version=int(version))

    @settings(max_examples=150, deadline=None)
    @given(records(schema_json))
    def round_trip(record: dict[str, Any]) -> None:
        assert codec.decode(codec.encode(record)) == record

    round_trip()


def test_every_record_type_has_a_schema_file() -> None:
    assert default_registry().names() == [
        "ConfirmationMail",
        "Erasure",
        "LogChange",
        "LogHead",
        "LogLeaf",
        "MailFailure",
        "MailHistory",
        "PartialCount",
        "PersonalData",
        "Petition",
        "RegionalCount",
        "SignatureAccepted",
        "SignatureBatch",
        "SignatureConfirmed",
        "SignatureModerated",
        "SignatureRejected",
        "SignatureSubmitted",
        "SignerKey",
        "TableWrites",
    ]


@given(st.data())
@settings(max_examples=50, deadline=None)
def test_encoding_is_deterministic(data: st.DataObject) -> None:
    schema_json = json.loads((SCHEMA_DIR / "SignatureSubmitted.v2.avsc").read_text())
    record = data.draw(records(schema_json))
    codec = AvroCodec("SignatureSubmitted")
    assert codec.encode(record) == codec.encode(dict(record))
