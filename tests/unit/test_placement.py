"""A signer's home partition is where Kafka's default partitioner puts their key."""

from __future__ import annotations

import collections

import pytest
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from streams.rules.keys import submission_key_for
from streams.rules.placement import home_partition, murmur2

# Kafka's own test vectors for Utils.murmur2 (clients UtilsTest.testMurmur2), as the
# signed 32-bit ints Java prints; the partitioner masks the sign bit.
JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("key", "java_hash"), JAVA_MURMUR2.items())
def test_home_partition_is_javas_murmur2_partitioner(key: bytes, java_hash: int) -> None:
    for partitions in (1, 6, 7, 64):
        assert home_partition(key, partitions) == (java_hash & 0x7FFFFFFF) % partitions


def test_one_petition_has_a_home_on_every_partition() -> None:
    homes = collections.Counter(
        home_partition(submission_key_for("p", f"person{i}@example.org"), 6) for i in range(6_000)
    )
    assert sorted(homes) == list(range(6))
    assert min(homes.values()) > 500  # at least half a fair share (1,000) each


def test_murmur2_agrees_with_aiokafkas_on_keys_of_every_length() -> None:
    keys = [bytes(range(n)) for n in range(12)] + [
        submission_key_for(f"petition-{i}", f"s{i}@example.org") for i in range(500)
    ]
    for key in keys:
        assert murmur2(key) == aiokafka_murmur2(key), key
