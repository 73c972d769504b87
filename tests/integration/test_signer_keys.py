"""keys.signers on a real broker: a key made by one process opens in another, an
erased key opens nowhere, and compaction removes it from the broker's disk within the
bound docs/privacy.md states."""

from __future__ import annotations

import asyncio
import time

import pytest

from schemas.sealed import DataKey
from streams.core.errors import KeyErased, PublishFailed
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.core.topicspecs import SIGNER_KEYS
from streams.rules.keys import DedupeKey
from streams.signerkeys.store import SignerKeys
from streams.signerkeys.writer import KeyWriter, Ticker, erasure_bound_seconds
from tests.privacy_scan import broker_log_dirs

ZOE = DedupeKey("petition-a", "ab" * 32)
LI = DedupeKey("petition-a", "cd" * 32)


@pytest.fixture
def keys_settings(settings: Settings) -> Settings:
    short = settings.model_copy(update={"erasure_window_seconds": 2.0})
    create_topics(short)
    return short


def followed(settings: Settings) -> SignerKeys:
    keys = SignerKeys(settings)
    keys.start()
    return keys


def on_disk(settings: Settings, needle: bytes) -> bool:
    """Whether any file of the topic's partition directories holds ``needle``."""
    topic = settings.topic(SIGNER_KEYS.name)
    for log_dir in broker_log_dirs(settings):
        for partition_dir in log_dir.glob(f"{topic}-*"):
            for path in partition_dir.iterdir():
                try:
                    if needle in path.read_bytes():
                        return True
                except FileNotFoundError:  # deleted while we looked
                    continue
    return False


def test_a_key_made_by_one_process_opens_in_another(keys_settings: Settings) -> None:
    made = KeyWriter(keys_settings).create(ZOE)
    keys = followed(keys_settings)
    try:
        assert keys.data_key(ZOE.petition_id, made.key_id) == made
    finally:
        keys.stop()


def test_keys_made_at_once_on_the_event_loop_are_each_answered_and_on_kafka(
    keys_settings: Settings,
) -> None:
    # Their answers reach the loop in batches (one per poll): none may be lost, even
    # when a blocking write on another thread serves some of them (its own poll).
    signers = [DedupeKey("p1", f"{n:064x}") for n in range(300)]
    others = [DedupeKey("p2", f"{n:064x}") for n in range(50)]
    writer = KeyWriter(keys_settings)

    async def make_all() -> list[DataKey]:
        blocking = asyncio.to_thread(lambda: [writer.create(signer) for signer in others])
        made, _ = await asyncio.gather(
            asyncio.gather(*(writer.create_async(signer) for signer in signers)), blocking
        )
        return list(made)

    try:
        made = asyncio.run(make_all())
    finally:
        writer.close()
    keys = followed(keys_settings)
    try:
        assert len({key.key_id for key in made}) == len(signers)
        assert [keys.data_key("p1", key.key_id) for key in made] == made
    finally:
        keys.stop()


def test_an_erased_key_opens_nowhere(keys_settings: Settings) -> None:
    writer = KeyWriter(keys_settings)
    made = writer.create(ZOE)
    keys = followed(keys_settings)
    try:
        writer.erase(ZOE, [made.key_id])
        assert keys.ensure_fresh(time.time(), timeout=10)
        with pytest.raises(KeyErased):
            keys.data_key(ZOE.petition_id, made.key_id)
    finally:
        keys.stop()


def test_an_erased_key_leaves_the_brokers_disk_within_the_bound(keys_settings: Settings) -> None:
    writer = KeyWriter(keys_settings)
    erased, kept = writer.create(ZOE), writer.create(LI)
    keys = followed(keys_settings)
    erased_wrapped = keys.keyring.get(ZOE, erased.key_id)
    kept_wrapped = keys.keyring.get(LI, kept.key_id)
    keys.stop()
    assert erased_wrapped is not None and kept_wrapped is not None
    assert on_disk(keys_settings, erased_wrapped.wrapped)  # the scan finds what is there

    ticker = Ticker(writer)
    ticker.start()
    try:
        writer.erase(ZOE, [erased.key_id])
        erased_at = time.monotonic()
        bound = erasure_bound_seconds(keys_settings)
        while on_disk(keys_settings, erased_wrapped.wrapped):
            assert time.monotonic() - erased_at < bound, f"still on disk after {bound:.0f} s"
            time.sleep(0.5)
    finally:
        ticker.stop()
    assert on_disk(keys_settings, kept_wrapped.wrapped)  # compaction kept the other key
    again = followed(keys_settings)
    try:
        assert again.data_key(LI.petition_id, kept.key_id) == kept
        with pytest.raises(KeyErased):
            again.data_key(ZOE.petition_id, erased.key_id)
    finally:
        again.stop()


def test_a_closed_writer_refuses_a_key_at_once(keys_settings: Settings) -> None:
    writer = KeyWriter(keys_settings)
    writer.close()
    with pytest.raises(PublishFailed, match="closed"):
        asyncio.run(writer.create_async(ZOE))
