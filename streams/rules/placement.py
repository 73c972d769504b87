"""Which partition a submission key lands on: Kafka's default partitioner.

Java clients, aiokafka and our confluent-kafka producers (``murmur2_random``) all put
a keyed record on ``murmur2(key) mod partitions``. Two processes need that number
without asking a client for it:

* the worker, to know whether a submission arrived on its signer's home partition
  (the dedupe table entry is there: settle it in place) or elsewhere (an older
  producer's plain petition key, another partitioner: send it home through
  signatures.valid). A wrong guess costs one hop, never a count: the home is
  computed from the content alone;
* the publisher, to put several signatures that share a home into one record
  (``schemas.batch``).

Kept here, in the core, so that neither has to load a Kafka client library for it.
Submission keys repeat (``petition_id/bucket``: 256 per petition), so the partition
of each is remembered.
"""

from __future__ import annotations

from functools import lru_cache

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2`` (unsigned 32 bits): MurmurHash2 with Kafka's seed,
    words read little-endian."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = (int.from_bytes(data[i : i + 4], "little") * _M) & _MASK
        k = ((k ^ (k >> 24)) * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length % 4
    if tail:
        if tail >= 3:
            h ^= data[whole + 2] << 16
        if tail >= 2:
            h ^= data[whole + 1] << 8
        h = ((h ^ data[whole]) * _M) & _MASK
    h = ((h ^ (h >> 13)) * _M) & _MASK
    return h ^ (h >> 15)


@lru_cache(maxsize=65_536)
def home_partition(submission_key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``submission_key``."""
    return (murmur2(submission_key) & 0x7FFFFFFF) % partitions
