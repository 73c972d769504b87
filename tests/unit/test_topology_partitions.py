"""Every record the worker produces goes out with its partition: the one a stage chose
(a signer's home), else the one Kafka's default partitioner gives its key, worked out
here (remembered per key) and handed to the output producer with the record."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from streams.core.settings import Settings
from streams.rules.outputs import Output, Route
from streams.worker.topology import Topology

PARTITIONS = 7


class OutputsDouble:
    """Records what reaches the output producer (``streams.worker.outputs``)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, int | None]] = []

    def produce(self, topic: str, key: bytes | None, *args: Any) -> None:
        _value, partition, _headers = args
        self.sent.append((topic, key, partition))


def sent(*outputs: Output) -> list[tuple[str, bytes | None, int | None]]:
    producer = OutputsDouble()
    settings = Settings(topic_partitions=PARTITIONS, topic_prefix="t.")
    app = SimpleNamespace(countersign_settings=settings, output_producer=lambda: producer)
    topology = Topology(app, *([None] * 10))  # type: ignore[arg-type]
    for output in outputs:
        topology.send_output(output)
    return producer.sent


def java_partition(key: bytes) -> int:
    return (aiokafka_murmur2(key) & 0x7FFFFFFF) % PARTITIONS


def test_a_rejection_goes_where_the_default_partitioner_puts_its_key() -> None:
    keys = [f"petition-{n}".encode() for n in range(40)]
    outputs = [Output(Route.REJECTED, key, b"v", "malformed") for key in keys]
    assert sent(*outputs) == [("t.signatures.rejected", k, java_partition(k)) for k in keys]


def test_a_partition_the_stage_chose_is_kept() -> None:
    output = Output(Route.ACCEPTED, b"p:hash", b"v", "accepted", partition=5)
    assert sent(output) == [("t.signatures.accepted", b"p:hash", 5)]
