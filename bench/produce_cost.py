"""What one librdkafka ``produce`` call costs the caller, by how the calls come.

    .venv/bin/python -m bench.produce_cost [--records 4000] [--rate 2500]

Timed alone in a tight loop, handing a record to the worker's output producer takes a
microsecond or two; in the worker's profile the same call is an eighth of the event
loop. The difference is the pattern: librdkafka wakes its broker thread when a record
arrives in an empty partition queue (a system call and a thread switch on this VM),
and the worker hands over one output between two judgements, over many partitions.
This times the call (only the call) for a few patterns on a topic of 12 partitions.
Needs a broker (make kafka-up); the topic is deleted afterwards.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable

from confluent_kafka.admin import NewTopic

from streams.core import kafka
from streams.core.settings import Settings
from streams.core.topics import wait_until_visible
from streams.worker.outputs import OutputProducer

PARTITIONS = 12
VALUE = b"x" * 300


def mean_call_us(
    outputs: OutputProducer,
    topic: str,
    partition_of: Callable[[int], int],
    *,
    records: int,
    gap_s: float,
    burst: int,
) -> float:
    """The mean µs of one ``produce`` call, calls made ``burst`` at a time with
    ``gap_s`` per record between bursts (a busy wait: no sleep's wake-up in it)."""
    spent = 0.0
    for n in range(records):
        if gap_s and n % burst == 0:
            until = time.perf_counter() + gap_s * burst
            while time.perf_counter() < until:
                pass
        started = time.perf_counter()
        outputs.produce(topic, None, VALUE, partition_of(n), None)
        spent += time.perf_counter() - started
    outputs.producer.flush(30)
    return spent / records * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=2500, help="records/s when paced")
    args = parser.parse_args()
    settings = Settings(topic_prefix=f"bench-produce-{uuid.uuid4().hex[:6]}.")
    admin = kafka.admin_client(settings)
    topic = settings.topic("outputs")
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result()
    wait_until_visible(admin, [topic])
    outputs = OutputProducer(settings, on_failure=print)
    gap = 1 / args.rate

    def in_turn(n: int) -> int:
        return n % PARTITIONS

    patterns: list[tuple[str, Callable[[int], int], float, int]] = [
        ("tight loop, one partition", lambda n: 0, 0.0, 1),
        (f"paced {args.rate:,.0f}/s, one partition", lambda n: 0, gap, 1),
        (f"paced {args.rate:,.0f}/s, {PARTITIONS} partitions in turn", in_turn, gap, 1),
        ("paced, bursts of 50 to one partition", lambda n: (n // 50) % PARTITIONS, gap, 50),
        (f"paced, bursts of 50 over {PARTITIONS} partitions", in_turn, gap, 50),
    ]
    try:
        for name, partition_of, gap_s, burst in patterns:
            cost = mean_call_us(
                outputs, topic, partition_of, records=args.records, gap_s=gap_s, burst=burst
            )
            print(f"{name:<45} {cost:6.1f} µs a call", flush=True)
    finally:
        admin.delete_topics([topic])


if __name__ == "__main__":
    main()
