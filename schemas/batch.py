"""Records of signatures.submitted that carry several submissions (``SignatureBatch``).

A Kafka record costs the worker far more than the signature inside it (Faust's
consume path, docs/benchmarks.md), so a producer that has several submissions for
one partition may send them as one record. Each item is the (key, value) pair it
would have been on its own, so everything that judges one submission judges an item
unchanged, and single-submission records stay valid beside batches: the fingerprint
in the single-object header tells them apart. An item's place in the audit log is
(partition, offset, index).
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.codec import HEADER_SIZE, MARKER, codec, default_registry
from streams.core.errors import MalformedMessage

Item = tuple[bytes | None, bytes]

_FINGERPRINTS = frozenset(v.fingerprint for v in default_registry().versions("SignatureBatch"))


def is_batch(raw: bytes | None) -> bool:
    """Whether a record's value is a ``SignatureBatch`` (of any version)."""
    return (
        raw is not None
        and len(raw) >= HEADER_SIZE
        and raw[:2] == MARKER
        and bytes(raw[2:HEADER_SIZE]) in _FINGERPRINTS
    )


def encode_batch(items: Sequence[Item]) -> bytes:
    return codec("SignatureBatch").encode(
        {"items": [{"key": key, "value": value} for key, value in items]}
    )


def decode_batch(raw: bytes) -> list[Item]:
    """The items of a batch, in order; ``MalformedMessage`` if it cannot be read or
    holds none (an empty batch is nobody's submission)."""
    items = codec("SignatureBatch").decode(raw)["items"]
    if not items:
        raise MalformedMessage("a SignatureBatch with no items")
    return [(item["key"], item["value"]) for item in items]


def items_of(key: bytes | None, value: bytes | None) -> list[tuple[bytes | None, bytes | None]]:
    """The submissions a record of signatures.submitted carries, each as the (key,
    value) it would have been on its own: a batch's items, or the record itself.

    ``MalformedMessage`` for a batch that cannot be read. The one home of that rule:
    the worker rejects such a record as one ``malformed`` submission at index 0, and
    the recount and trace read it the same way."""
    if value is None or not is_batch(value):
        return [(key, value)]
    return list(decode_batch(value))
