"""Whether a row fits its table's columns, judged on the types ClickHouse reports.

A record can decode as valid Avro and still hold a value that its column cannot:
a partition of 70,000 for a ``UInt16``, a negative offset for a ``UInt64``, a hash
of 300 characters for a ``FixedString(64)``, a null where the column is not
``Nullable``. clickhouse-connect refuses the whole insert then, and a sink that
retries the batch would retry it forever. The types come from the table itself
(``DESCRIBE TABLE``), so the migrations stay the one home of every limit.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_INTEGER = re.compile(r"(U?)Int(8|16|32|64|128|256)")
_FIXED = re.compile(r"FixedString\((\d+)\)")
_WRAPPERS = re.compile(r"^(?:LowCardinality|Nullable)\((.*)\)$")


def _unwrapped(column_type: str) -> tuple[str, bool]:
    """The inner type, and whether NULL is allowed."""
    nullable = False
    while (inner := _WRAPPERS.match(column_type)) is not None:
        nullable = nullable or column_type.startswith("Nullable(")
        column_type = inner[1]
    return column_type, nullable


@dataclass(frozen=True)
class _Limits:
    """What a column type admits, parsed once per type (the sink checks every value
    of every row against it)."""

    inner: str
    nullable: bool
    integer_range: tuple[int, int] | None  # [low, high)
    fixed_size: int | None

    def problem(self, value: Any) -> str | None:
        """Why ``value`` cannot go into a column of this type (None: it can)."""
        if value is None:
            return None if self.nullable else "null where the column takes none"
        if self.integer_range is not None and isinstance(value, int):
            low, high = self.integer_range
            return None if low <= value < high else f"a number outside {self.inner}"
        if self.fixed_size is not None and isinstance(value, str | bytes):
            size = len(value.encode() if isinstance(value, str) else value)
            return None if size <= self.fixed_size else f"{size} bytes for {self.inner}"
        return None


@functools.cache
def _limits(column_type: str) -> _Limits:
    inner, nullable = _unwrapped(column_type)
    integer_range = fixed_size = None
    if (integer := _INTEGER.fullmatch(inner)) is not None:
        bits = int(integer[2])
        unsigned = bool(integer[1])
        integer_range = (0, 2**bits) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1))
    if (fixed := _FIXED.fullmatch(inner)) is not None:
        fixed_size = int(fixed[1])
    return _Limits(inner, nullable, integer_range, fixed_size)


def value_problem(column_type: str, value: Any) -> str | None:
    """Why ``value`` cannot go into a column of ``column_type`` (None: it can)."""
    return _limits(column_type).problem(value)


def row_problem(types: Sequence[str], columns: Sequence[str], row: Sequence[Any]) -> str | None:
    """The first column of ``row`` its table cannot hold, said without its value
    (it may be personal data); None when the row fits."""
    for name, limits, value in zip(columns, _limits_of(tuple(types)), row, strict=True):
        problem = limits.problem(value)
        if problem is not None:
            return f"{name}: {problem}"
    return None


@functools.cache
def _limits_of(types: tuple[str, ...]) -> tuple[_Limits, ...]:
    """A table's column limits, looked up once: the sink checks every row of every
    batch against them."""
    return tuple(_limits(column_type) for column_type in types)
