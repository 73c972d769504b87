"""``RegionalCountRows`` gives ``regional_count_row``'s rows, writing a shared cut's
JSON once."""

from __future__ import annotations

import copy
from typing import Any

from schemas.codec import SharedLastField, codec
from sinks.clickhouse.rows import RegionalCountRows, regional_count_row
from tests.unit.test_shared_last_field import count, cut


def test_rows_of_a_stream_of_counts_are_each_counts_own_row() -> None:
    counts = [
        count("DE", 1, cut(100)),
        count("FR", 2, cut(100)),
        count("PL", 3, None),
        count("IT", 4, cut(200)),
        count("ES", 5, cut(200)),
    ]
    decoder = SharedLastField("RegionalCount")
    decoded = [decoder.decode(codec("RegionalCount").encode(c)) for c in counts]
    rows = RegionalCountRows()
    assert [rows(record, 0) for record in decoded] == [regional_count_row(c, 0) for c in counts]


def test_a_cut_is_written_again_when_it_is_another_object_with_other_values() -> None:
    rows = RegionalCountRows()
    first: dict[str, Any] = count("DE", 1, cut(100))
    second = copy.deepcopy(first) | {"cut": cut(300)}
    assert rows(first, 0)[-1] != rows(second, 0)[-1]
    assert rows(second, 0) == regional_count_row(second, 0)
