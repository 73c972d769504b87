"""Hypothesis strategies that build records for any Avro schema we ship.

Written from the Avro type system, not from our codec, so a round trip through the
codec is checked against data the codec did not choose.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

LONG = st.integers(min_value=-(2**63), max_value=2**63 - 1)
INT = st.integers(min_value=-(2**31), max_value=2**31 - 1)
# timestamp-millis decodes to an aware UTC datetime with millisecond precision.
TIMESTAMP_MILLIS = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))


def for_type(avro_type: Any) -> st.SearchStrategy[Any]:
    if isinstance(avro_type, list):
        return st.one_of([for_type(branch) for branch in avro_type])
    if isinstance(avro_type, str):
        return {
            "null": st.none(),
            "boolean": st.booleans(),
            "int": INT,
            "long": LONG,
            "string": st.text(),
            "bytes": st.binary(),
            "double": st.floats(allow_nan=False),
        }[avro_type]
    if avro_type.get("logicalType") == "timestamp-millis":
        return TIMESTAMP_MILLIS
    return _for_complex_type(avro_type)


def _for_complex_type(avro_type: dict[str, Any]) -> st.SearchStrategy[Any]:
    if avro_type["type"] == "array":
        return st.lists(for_type(avro_type["items"]), max_size=5)
    if avro_type["type"] == "map":
        return st.dictionaries(st.text(), for_type(avro_type["values"]), max_size=5)
    if avro_type["type"] == "record":
        return st.fixed_dictionaries(
            {field["name"]: for_type(field["type"]) for field in avro_type["fields"]}
        )
    return for_type(avro_type["type"])


def records(schema_json: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return for_type(schema_json)
