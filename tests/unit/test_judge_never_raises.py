"""``judge`` turns any input into a verdict: the validate agent has no catch-all, so
an exception here would stop the worker (``streams.worker.policy``). These properties
are what lets it go without one."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.batch import decode_batch, encode_batch
from schemas.codec import AvroCodec
from streams.core.errors import MalformedMessage
from streams.rules.petitions import PetitionWindow
from streams.rules.verdict import Accepted, Rejected, SourcePosition, judge

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PETITIONS = {"open": PetitionWindow("open", datetime(2026, 1, 1, tzinfo=UTC), None)}
POSITION = SourcePosition("signatures.submitted", 0, 7)
CODEC = AvroCodec("SignatureSubmitted")
#: Any text Avro can carry (UTF-8 has no surrogates), all categories otherwise.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=80)
OPTIONAL_TEXT = st.none() | TEXT
WHEN = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


def verdict_of(raw: bytes | None, key: bytes | None) -> Accepted | Rejected:
    return judge(raw, key, POSITION, petitions=PETITIONS, now=NOW, hash_key=b"k" * 32)


@settings(max_examples=1000, deadline=None)
@given(st.none() | st.binary(max_size=300), st.none() | st.binary(max_size=60))
def test_any_bytes_get_a_verdict(raw: bytes | None, key: bytes | None) -> None:
    assert isinstance(verdict_of(raw, key), Accepted | Rejected)


@settings(max_examples=1000, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "signature_id": TEXT,
            "petition_id": st.sampled_from(["open", "unknown", ""]) | TEXT,
            "full_name": TEXT,
            "email": TEXT | st.builds("{}@{}".format, TEXT, TEXT),
            "country": TEXT,
            "postal_code": OPTIONAL_TEXT,
            "consent_to_publish_name": st.booleans(),
            "submitted_at": WHEN | st.just(NOW - timedelta(seconds=1)),
            "source": TEXT,
            "client_ip": OPTIONAL_TEXT,
            "user_agent": OPTIONAL_TEXT,
            "locale": OPTIONAL_TEXT,
            "referrer": OPTIONAL_TEXT,
        }
    ),
    st.none() | st.sampled_from([b"open", b"other"]) | st.binary(max_size=40),
)
def test_any_well_formed_event_gets_a_verdict(event: dict[str, Any], key: bytes | None) -> None:
    assert isinstance(verdict_of(CODEC.encode(event), key), Accepted | Rejected)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_a_batch_of_any_bytes_decodes_or_is_malformed(tail: bytes) -> None:
    header = encode_batch([(b"open", b"x")])[:10]
    with contextlib.suppress(MalformedMessage):
        for key, value in decode_batch(header + tail):
            assert isinstance(verdict_of(value, key), Accepted | Rejected)
