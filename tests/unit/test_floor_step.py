"""bench.floor's rule-free step stands in for validate: one SignatureAccepted per
readable signature a record carries, in order, and nothing for an unreadable one, so
that the sink's rows can be counted against what the loop gave."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.floor import bare_outputs
from schemas.batch import encode_batch
from schemas.codec import codec
from streams.core.errors import MalformedMessage
from streams.demo.simulator import make_dataset
from streams.rules.outputs import Route
from streams.rules.verdict import SourcePosition

AT = SourcePosition("bench.signatures.submitted", 3, 41)
NOW = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)


def readable(value: bytes) -> bool:
    try:
        codec("SignatureSubmitted").decode(value)
    except MalformedMessage:
        return False
    return True


def test_a_batch_gives_one_accepted_per_readable_signature_in_order() -> None:
    events, _, _ = make_dataset(7, 200)
    items = [(e.key, e.value) for e in events[:40]]
    expected = [
        (index, codec("SignatureSubmitted").decode(value)["signature_id"])
        for index, (_, value) in enumerate(items)
        if readable(value)
    ]
    assert 0 < len(expected) < len(items), "the dataset should hold a malformed event here"

    outputs = bare_outputs(NOW)(AT, None, encode_batch(items))

    assert {route for route, _ in outputs} == {Route.ACCEPTED.value}
    records = [codec("SignatureAccepted").decode(value) for _, value in outputs]
    assert [(r["source_index"], r["signature_id"]) for r in records] == expected
    assert {(r["source_partition"], r["source_offset"]) for r in records} == {(3, 41)}


def test_an_unreadable_record_gives_nothing() -> None:
    assert bare_outputs(NOW)(AT, b"open/1", b"not avro") == []
