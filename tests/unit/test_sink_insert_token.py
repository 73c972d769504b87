"""The sink's insert deduplication token: the same batches give the same token, and
different batches do not (ClickHouse drops an insert whose token it has seen)."""

from confluent_kafka import Message

from sinks.clickhouse.sink import insert_token


def batch(topic: str, partition: int, first: int, last: int) -> list[Message]:
    return [
        Message(topic=topic, partition=partition, offset=offset, value=b"")
        for offset in range(first, last + 1)
    ]


def test_the_token_names_every_range_of_the_insert_in_a_fixed_order() -> None:
    parts = {
        ("p.signatures.rejected", 3): batch("p.signatures.rejected", 3, 7, 9),
        ("p.signatures.duplicates", 0): batch("p.signatures.duplicates", 0, 40, 40),
        ("p.signatures.rejected", 1): batch("p.signatures.rejected", 1, 0, 2),
    }
    assert insert_token(parts) == (
        "p.signatures.duplicates/0/40-40,p.signatures.rejected/1/0-2,p.signatures.rejected/3/7-9"
    )


def test_the_same_batches_read_in_another_order_give_the_same_token() -> None:
    first = batch("t", 0, 0, 4)
    second = batch("t", 1, 10, 12)
    assert insert_token({("t", 0): first, ("t", 1): second}) == insert_token(
        {("t", 1): second, ("t", 0): first}
    )


def test_a_batch_that_reaches_further_gives_another_token() -> None:
    assert insert_token({("t", 0): batch("t", 0, 0, 4)}) != insert_token(
        {("t", 0): batch("t", 0, 0, 5)}
    )
