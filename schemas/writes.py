"""A table's changelog record that carries every write one input record made
(``TableWrites``), and the keys such records are sent under.

Faust writes one changelog record per key it sets; a record of signatures.submitted
that carries 50 signatures would send 50, each through aiokafka's Python producer
(~100 µs each, bench/results/faust_floor.json). The dedupe stage writes its table
through its local store instead and sends one of these per input record
(``streams.worker.engine.WritesPerRecord``); restoring expands it back into the
writes, in order.

Its key is unique per changelog record, never reused: a compacted changelog must
never replace one of these by a later one that holds other writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from schemas.codec import codec

Write = tuple[bytes, bytes | None]

#: Starts every key of a ``TableWrites`` record. A table key of ours always holds a
#: ``:`` (``DedupeKey.table_key``) and these never do, so neither is taken for the other.
WRITES_KEY_PREFIX = b"\x00writes/"


def writes_key() -> bytes:
    """A fresh key for one ``TableWrites`` record: the prefix and a random UUID in hex."""
    return WRITES_KEY_PREFIX + uuid.uuid4().hex.encode()


def is_writes_key(key: bytes | None) -> bool:
    return key is not None and key.startswith(WRITES_KEY_PREFIX) and b":" not in key


def encode_writes(writes: Sequence[Write]) -> bytes:
    return codec("TableWrites").encode(
        {"entries": [{"key": key, "value": value} for key, value in writes]}
    )


def decode_writes(raw: bytes | None) -> list[Write]:
    """The writes a ``TableWrites`` record carries, in order (``MalformedMessage`` if
    it is not one)."""
    return [(e["key"], e["value"]) for e in codec("TableWrites").decode(raw)["entries"]]


def writes_of(key: bytes | None, value: bytes | None) -> list[Write] | None:
    """The writes of a changelog record when it is a ``TableWrites`` one, else None
    (a plain record of one key, as Faust writes them)."""
    return decode_writes(value) if is_writes_key(key) else None
