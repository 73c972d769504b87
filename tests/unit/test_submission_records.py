"""The tests and benchmarks publish events as the intake would (``as_records``): the
shaping must keep every event, each on its own partition, in its partition's order."""

from __future__ import annotations

from schemas.batch import items_of
from streams.demo.simulator import Event
from streams.rules.placement import home_partition
from streams.testing.processes import as_records

PARTITIONS = 4


def events(count: int) -> list[Event]:
    return [Event(f"open/{i}".encode(), f"value {i}".encode(), "valid") for i in range(count)]


def by_partition(pairs: list[tuple[bytes | None, bytes]]) -> dict[int, list[bytes]]:
    """Each partition's values in order, the partition worked out from the key."""
    found: dict[int, list[bytes]] = {}
    for key, value in pairs:
        assert key is not None
        found.setdefault(home_partition(key, PARTITIONS), []).append(value)
    return found


def test_one_per_record_is_each_event_alone_on_its_home_partition() -> None:
    given = events(20)
    records = as_records(given, PARTITIONS, 1)
    assert [(key, value) for _, key, value, _ in records] == [(e.key, e.value) for e in given]
    assert all(p == home_partition(key, PARTITIONS) for p, key, _, _ in records if key)


def test_batches_keep_every_event_in_its_partitions_order() -> None:
    given = events(50)
    records = as_records(given, PARTITIONS, 3)
    carried = [(p, item) for p, key, value, _ in records for item in items_of(key, value)]
    assert all(p == home_partition(key, PARTITIONS) for p, (key, _) in carried if key)
    assert by_partition([item for _, item in carried]) == by_partition(
        [(e.key, e.value) for e in given]
    )


def test_no_batch_carries_more_than_asked() -> None:
    records = as_records(events(50), PARTITIONS, 3)
    sizes = [len(items_of(key, value)) for _, key, value, _ in records]
    assert sizes == [carried for *_, carried in records]
    assert max(sizes) == 3
    assert sum(sizes) == 50
