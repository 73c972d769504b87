"""Avro single-object encoding: the wire format of every Countersign topic.

A message is ``C3 01`` + the 8-byte little-endian CRC-64-AVRO (Rabin) fingerprint of
the writer's parsing canonical form + the Avro binary body (Avro specification,
"Single-object encoding"). Because the fingerprint names the writer's schema, a
reader can decode what any version of the producer wrote and resolve it to its own
version: that is how we evolve schemas without a registry server. The "registry" is
the set of ``.avsc`` files shipped in ``schemas/avro/`` (every version kept).

Decoding never lets a fastavro exception escape: every failure is a typed
``MalformedMessage`` saying why, which the validate agent turns into a dead letter.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

import fastavro
from fastavro.schema import fingerprint as _fastavro_fingerprint
from fastavro.schema import to_parsing_canonical_form

from streams.core.errors import (
    BadMarker,
    IncompatibleSchema,
    TruncatedMessage,
    UnknownFingerprint,
    UnparseableBody,
)

MARKER = b"\xc3\x01"
HEADER_SIZE = len(MARKER) + 8
SCHEMA_DIR = Path(__file__).with_name("avro")
_FILE_NAME = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9]*)\.v(?P<version>[0-9]+)\.avsc$")

Record = dict[str, Any]
#: The logical type ``millis_codec`` reads as the long it is on the wire.
TIMESTAMP = "timestamp-millis"
#: The first and last millisecond a datetime can hold (0001-01-01, 9999-12-31 UTC).
EARLIEST_MS = -62_135_596_800_000
LATEST_MS = 253_402_300_799_999


@dataclass(frozen=True)
class SchemaVersion:
    """One ``.avsc`` file: a version of a record type, parsed and fingerprinted."""

    name: str
    version: int
    parsed: Any  # fastavro's parsed schema
    canonical_form: str
    fingerprint: bytes  # 8 bytes, little-endian, as written on the wire
    #: The ``.avsc`` file's JSON, for ``millis_codec``'s reading of it.
    raw: Any = None

    @classmethod
    def load(cls, path: Path) -> SchemaVersion:
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise ValueError(f"{path.name}: schema files are named <Record>.v<N>.avsc")
        raw = json.loads(path.read_text(encoding="utf-8"))
        canonical = to_parsing_canonical_form(fastavro.parse_schema(raw, _write_hint=False))
        # The hinted parse marks the schema as parsed, so fastavro's reader and writer
        # use it as it is; an unhinted one is parsed again on every call (twice the cost).
        parsed = fastavro.parse_schema(raw)
        return cls(
            name=match["name"],
            version=int(match["version"]),
            parsed=parsed,
            canonical_form=canonical,
            fingerprint=bytes.fromhex(_fastavro_fingerprint(canonical, "CRC-64-AVRO")),
            raw=raw,
        )


def _is_timestamp(schema: Any) -> bool:
    """A ``timestamp-millis``, or a union of one and null."""
    branches = schema if isinstance(schema, list) else [schema]
    times = [b for b in branches if isinstance(b, dict) and b.get("logicalType") == TIMESTAMP]
    return bool(times) and all(b == "null" or b in times for b in branches)


def _without_timestamp_types(schema: Any) -> Any:
    """``schema`` with its ``timestamp-millis`` longs as plain longs: the binary form,
    and so the canonical form and the fingerprint, are the same."""
    if isinstance(schema, list):
        return [_without_timestamp_types(branch) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("logicalType") == TIMESTAMP:
        return {k: v for k, v in schema.items() if k != "logicalType"}
    return {key: _without_timestamp_types(value) for key, value in schema.items()}


class SchemaRegistry:
    """All writer schemas we can read, by fingerprint, and the newest of each type."""

    def __init__(self, versions: Iterable[SchemaVersion]) -> None:
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        self._by_name: dict[str, dict[int, SchemaVersion]] = {}
        for schema in versions:
            if schema.fingerprint in self._by_fingerprint:
                other = self._by_fingerprint[schema.fingerprint]
                raise ValueError(
                    f"{schema.name} v{schema.version} has the same canonical form as "
                    f"{other.name} v{other.version}: a new version must change the schema"
                )
            self._by_fingerprint[schema.fingerprint] = schema
            self._by_name.setdefault(schema.name, {})[schema.version] = schema

    @classmethod
    def from_directory(cls, directory: Path = SCHEMA_DIR) -> SchemaRegistry:
        return cls(SchemaVersion.load(path) for path in sorted(directory.glob("*.avsc")))

    def by_fingerprint(self, fingerprint: bytes) -> SchemaVersion:
        try:
            return self._by_fingerprint[fingerprint]
        except KeyError:
            raise UnknownFingerprint(fingerprint) from None

    def version(self, name: str, version: int | None = None) -> SchemaVersion:
        """A given version of a record type, or its newest when ``version`` is None."""
        versions = self._by_name[name]
        return versions[max(versions) if version is None else version]

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def versions(self, name: str) -> list[SchemaVersion]:
        return [self._by_name[name][v] for v in sorted(self._by_name[name])]


@cache
def default_registry() -> SchemaRegistry:
    """The schemas shipped with this package (parsed once per process)."""
    return SchemaRegistry.from_directory()


class AvroCodec:
    """Encodes one record type with a chosen writer version; decodes any known writer
    version of it into the reader's (by default the newest) version."""

    def __init__(
        self,
        name: str,
        *,
        registry: SchemaRegistry | None = None,
        reader_version: int | None = None,
        epoch_millis: bool = False,
    ) -> None:
        self.registry = registry or default_registry()
        self.reader = self.registry.version(name, reader_version)
        self.name = name
        #: Decode timestamps as milliseconds since the epoch (``millis_codec``): each
        #: version's schema read so, made when first needed, by fingerprint.
        self.epoch_millis = epoch_millis
        self._millis_schemas: dict[bytes, Any] = {}
        #: The reader's own fields that are timestamps: ``_check_times`` checks them.
        self._timestamp_fields: tuple[str, ...] = ()
        if epoch_millis:
            fields = self.reader.raw["fields"]
            self._timestamp_fields = tuple(f["name"] for f in fields if _is_timestamp(f["type"]))
            if json.dumps(self.reader.raw).count(TIMESTAMP) > len(self._timestamp_fields):
                raise ValueError(f"{name} has timestamps below its own fields: use codec({name!r})")

    def encode(self, record: Mapping[str, Any], *, writer_version: int | None = None) -> bytes:
        writer = (
            self.reader
            if writer_version is None
            else self.registry.version(self.name, writer_version)
        )
        buffer = io.BytesIO()
        buffer.write(MARKER)
        buffer.write(writer.fingerprint)
        fastavro.schemaless_writer(buffer, writer.parsed, record)
        return buffer.getvalue()

    def decode(self, data: bytes | None) -> Record:
        """The record in the reader's version; ``MalformedMessage`` for anything else
        (a record with no value, a tombstone, included)."""
        data = data or b""
        if len(data) < HEADER_SIZE:
            if not MARKER.startswith(data[:2]):
                raise BadMarker(f"starts with {data[:2].hex()}, not the Avro marker c301")
            raise TruncatedMessage(
                f"{len(data)} bytes: shorter than the {HEADER_SIZE}-byte single-object header"
            )
        if data[:2] != MARKER:
            raise BadMarker(f"starts with {data[:2].hex()}, not the Avro marker c301")
        writer = self.registry.by_fingerprint(bytes(data[2:HEADER_SIZE]))
        if writer.name != self.name:
            raise IncompatibleSchema(
                f"a {writer.name} v{writer.version} record where {self.name} is expected"
            )
        body = io.BytesIO(data[HEADER_SIZE:])
        if self.epoch_millis:
            writer_schema = self._millis_schema(writer)
            reader_schema = None if writer is self.reader else self._millis_schema(self.reader)
        else:
            writer_schema = writer.parsed
            reader_schema = None if writer is self.reader else self.reader.parsed
        try:
            record = cast(Record, fastavro.schemaless_reader(body, writer_schema, reader_schema))
        except (EOFError, StopIteration) as exc:
            raise TruncatedMessage(f"body ends early for {writer.name} v{writer.version}") from exc
        except Exception as exc:  # fastavro raises many kinds on bad bytes
            raise UnparseableBody(
                f"body is not a {writer.name} v{writer.version}: {_why(exc)}"
            ) from exc
        trailing = len(data) - HEADER_SIZE - body.tell()
        if trailing:
            raise UnparseableBody(
                f"{trailing} bytes left over after a {writer.name} v{writer.version} body"
            )
        if self.epoch_millis:
            self._check_times(record)
        return record

    def _millis_schema(self, version: SchemaVersion) -> Any:
        schema = self._millis_schemas.get(version.fingerprint)
        if schema is None:
            schema = fastavro.parse_schema(_without_timestamp_types(version.raw))
            self._millis_schemas[version.fingerprint] = schema
        return schema

    def _check_times(self, record: Record) -> None:
        """What the general decode refuses, refused here too: a time no datetime can
        hold (before year 1 or after 9999) is an unreadable record, not a row."""
        for name in self._timestamp_fields:
            value = record[name]
            if value is not None and not EARLIEST_MS <= value <= LATEST_MS:
                raise UnparseableBody(f"{name} is outside the years 1 to 9999")


def _why(exc: Exception) -> str:
    """What went wrong in a body, without what fastavro read: its messages may quote
    the data (a name, an address), and this detail goes into dead letters and logs."""
    if isinstance(exc, UnicodeDecodeError):
        return f"a string is not UTF-8 (byte {exc.start} of it)"
    return type(exc).__name__


@cache
def codec(name: str) -> AvroCodec:
    """The shared codec of a record type at its newest version."""
    return AvroCodec(name)


@cache
def millis_codec(name: str) -> AvroCodec:
    """``codec(name)``, but its records' timestamps decode as milliseconds since the
    epoch (ints), not datetimes. For a reader that passes them on as numbers: the sink
    (ClickHouse's DateTime64(3) takes them as they are). Making the two datetimes of
    a SignatureAccepted took a quarter of fastavro's decode (15.1 -> 11.4 µs,
    timed alone), and clickhouse-connect took 0.5 µs to turn each back into a
    number (2026-12-07)."""
    return AvroCodec(name, epoch_millis=True)


class SharedLastField:
    """Encodes records of one type, in its newest version, whose last field repeats
    from one record to the next: that field's bytes are reused while its value is
    equal to the previous record's.

    Why: a RegionalCount ends with its petition's cut (every home partition's log
    positions, ~40 nested records), the same in every country's count of one round,
    and it took 89 of the 92 µs of an encode (docs/benchmarks.md, 2026-12-07). Avro's
    binary form of a record is its fields' forms one after another, so the head's
    bytes followed by the last field's are the record's bytes: the same as
    ``AvroCodec.encode`` (a test holds them equal)."""

    def __init__(self, name: str, registry: SchemaRegistry | None = None) -> None:
        writer = (registry or default_registry()).version(name)
        fields = writer.parsed["fields"]
        self._prefix = MARKER + writer.fingerprint
        self._last_name = fields[-1]["name"]
        head = {"type": "record", "name": f"{writer.parsed['name']}Head", "fields": fields[:-1]}
        self._head = fastavro.parse_schema(head)
        self._last = fastavro.parse_schema(fields[-1]["type"])
        self._codec = AvroCodec(name, registry=registry)
        #: The last field of the record decoded last: its bytes and its value.
        self._read: tuple[bytes | None, Any] = (None, None)

    def encode_all(self, records: Iterable[Mapping[str, Any]]) -> list[bytes]:
        encoded = []
        last_value: object = _NOTHING
        last_bytes = b""
        for record in records:
            value = record[self._last_name]
            if value != last_value:
                buffer = io.BytesIO()
                fastavro.schemaless_writer(buffer, self._last, value)
                last_value, last_bytes = value, buffer.getvalue()
            head = io.BytesIO()
            head.write(self._prefix)
            fastavro.schemaless_writer(head, self._head, record)
            head.write(last_bytes)
            encoded.append(head.getvalue())
        return encoded

    def decode(self, data: bytes) -> Record:
        """``AvroCodec.decode``'s record, and its errors, with the last field read
        only when its bytes differ from the previous record's: the value is then the
        previous record's own object, to be read, not changed. Records of another
        version, and anything unusual, go the general way."""
        if data[:HEADER_SIZE] != self._prefix:
            return self._codec.decode(data)
        body = io.BytesIO(data)
        body.seek(HEADER_SIZE)
        read = self._read  # once: another thread may replace it meanwhile
        try:
            record = cast(Record, fastavro.schemaless_reader(body, self._head, None))
            last = data[body.tell() :]
            if last != read[0]:
                tail = io.BytesIO(last)
                read = (last, fastavro.schemaless_reader(tail, self._last, None))
                if tail.tell() != len(last):
                    raise ValueError("bytes left over")
                self._read = read
        except Exception:  # the general decode says precisely what is wrong
            return self._codec.decode(data)
        record[self._last_name] = read[1]
        return record


_NOTHING = object()
