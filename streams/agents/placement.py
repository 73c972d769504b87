"""Which partition a submission key lands on: Kafka's default partitioner.

Java clients, aiokafka and our confluent-kafka producers (``murmur2_random``) all put
a keyed record on ``murmur2(key) mod partitions``. The worker needs the same number
to know whether a submission arrived on its signer's home partition (the dedupe
table entry is there: settle it in place) or elsewhere (an older producer's plain
petition key, another partitioner: send it home through signatures.valid). A wrong
guess costs one hop, never a count: the home is computed from the content alone.
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def home_partition(submission_key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``submission_key``."""
    hashed: int = murmur2(submission_key)
    return (hashed & 0x7FFFFFFF) % partitions
