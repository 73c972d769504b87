"""The engine seam (``streams.worker.engine``): the version check, the pins, and one
test per hook that fails when Faust, mode or aiokafka change under it. The gap and
the rewind have behaviour tests of their own (``test_continuity_faust.py``,
``test_rewind_uncommitted.py``)."""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.consumer.fetcher import Fetcher as AIOKafkaFetcher
from aiokafka.consumer.fetcher import PartitionRecords
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition
from faust.sensors.monitor import Monitor
from faust.transport.consumer import Consumer
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.catalogue.follower import PetitionLookup
from streams.core.settings import Settings
from streams.worker import engine
from streams.worker.app import create_app
from streams.worker.engine import TESTED_WITH, UnsupportedEngine, check_versions, pin

ROOT = Path(__file__).resolve().parents[2]


def installed_but(distribution: str, version: str) -> object:
    def version_of(name: str) -> str:
        return version if name == distribution else importlib.metadata.version(name)

    return version_of


def test_the_installed_engine_is_one_the_hooks_were_tested_with() -> None:
    assert set(check_versions()) == set(TESTED_WITH)


@pytest.mark.parametrize(
    ("distribution", "version"),
    [("faust-streaming", "0.16.0"), ("faust-streaming", "0.11.3"), ("aiokafka", "0.15.0")],
)
def test_an_untested_version_is_refused_by_name(distribution: str, version: str) -> None:
    with pytest.raises(UnsupportedEngine) as refused:
        check_versions(installed_but(distribution, version))  # type: ignore[arg-type]
    assert f"{distribution} {version} is installed" in str(refused.value)
    assert pin(distribution) in str(refused.value)
    assert isinstance(refused.value, RuntimeError)


def test_a_patch_release_and_a_local_build_inside_the_range_are_accepted() -> None:
    check_versions(installed_but("faust-streaming", "0.15.9+local"))  # type: ignore[arg-type]
    check_versions(installed_but("aiokafka", "0.14.1"))  # type: ignore[arg-type]


def test_a_missing_package_is_named() -> None:
    def version_of(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    with pytest.raises(UnsupportedEngine, match="mode-streaming is not installed"):
        check_versions(version_of)


def test_pyproject_pins_exactly_the_tested_ranges() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for distribution in TESTED_WITH:
        [spelled] = [d for d in dependencies if d.split("[")[0].split(">")[0] == distribution]
        assert spelled.endswith(pin(distribution)), spelled


def test_the_worker_command_refuses_a_faked_unknown_faust_and_says_why(tmp_path: Path) -> None:
    # A distribution whose metadata says 0.99.0, found before the real one.
    fake = tmp_path / "faust_streaming-0.99.0.dist-info"
    fake.mkdir()
    metadata = "Metadata-Version: 2.1\nName: faust-streaming\nVersion: 0.99.0\n"
    (fake / "METADATA").write_text(metadata)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "COUNTERSIGN_ENV": "test"}
    done = subprocess.run(
        [sys.executable, "-m", "streams", "worker"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "faust-streaming 0.99.0 is installed" in done.stderr + done.stdout


# -- one test per hook ----------------------------------------------------------------


def test_faust_still_keeps_its_monitor_as_a_sensor_and_the_map_the_consumer_reads() -> None:
    app = faust.App("seam-test", broker="kafka://127.0.0.1:9")
    app.on_init_dependencies()
    assert app.monitor in app.sensors  # what EngineApp removes
    assert "monitor.stream_inbound_time" in inspect.getsource(faust_aiokafka)
    assert "stream_inbound_time" in inspect.getsource(Monitor.__init__)


def test_the_engine_app_drops_the_monitor_and_keeps_its_inbound_map() -> None:
    app = engine.EngineApp("seam-test", broker="kafka://127.0.0.1:9")
    app.on_init_dependencies()
    assert app.monitor not in app.sensors
    engine.inbound_times(app)["tp"] = 1.0
    assert app.monitor.stream_inbound_time == {"tp": 1.0}


def test_the_engine_app_wraps_the_consumers_seek_to_committed() -> None:
    app = engine.EngineApp("seam-test", broker="kafka://127.0.0.1:9")
    consumer = app.consumer
    assert isinstance(consumer, faust_aiokafka.Consumer)
    assert consumer.seek_to_committed.__name__ == "seek_to_committed_or_start"


def test_the_engine_apps_consumer_thread_builds_a_consumer_with_the_seams_fetch_limits() -> None:
    app = engine.EngineApp("seam-test", broker="kafka://127.0.0.1:9")
    thread = app.consumer._thread  # type: ignore[attr-defined]

    async def build() -> Any:
        return thread._create_worker_consumer(app.transport)

    built = asyncio.run(build())
    assert built._fetch_max_wait_ms == engine.FETCH_MAX_WAIT_MS
    assert built._fetch_min_bytes == engine.FETCH_MIN_BYTES


def test_faust_still_builds_its_worker_consumer_with_a_fixed_fetch_wait() -> None:
    source = inspect.getsource(faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer)
    assert "fetch_max_wait_ms=1500" in source  # what set_fetch_limits overrides


def test_aiokafka_still_hands_its_fetch_wait_to_the_fetcher_when_it_starts() -> None:
    source = inspect.getsource(AIOKafkaConsumer.start)
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in source
    assert "fetch_min_bytes=self._fetch_min_bytes" in source


def test_served_partitions_go_to_the_back_in_the_order_they_were_served() -> None:
    buffered = {"submitted-0": 1, "submitted-1": 2, "valid-0": 3, "partials-0": 4}
    engine.to_the_back(buffered, ["submitted-0", "submitted-1"])
    assert list(buffered) == ["valid-0", "partials-0", "submitted-0", "submitted-1"]


def test_a_served_partition_aiokafka_no_longer_holds_stays_out() -> None:
    buffered = {"valid-0": 3, "submitted-1": 2}
    engine.to_the_back(buffered, ["submitted-0", "submitted-1"])  # -0 was all taken
    assert buffered == {"valid-0": 3, "submitted-1": 2}
    assert list(buffered) == ["valid-0", "submitted-1"]


def test_aiokafka_still_serves_its_buffered_partitions_in_the_order_of_its_records_map() -> None:
    source = inspect.getsource(inspect.unwrap(AIOKafkaFetcher.fetched_records))
    assert "for tp in list(self._records.keys()):" in source
    assert "getall(max_records)" in source


def test_the_engine_app_makes_aiokafkas_fetcher_serve_partitions_in_turn() -> None:
    engine.EngineApp("seam-test", broker="kafka://127.0.0.1:9")
    assert AIOKafkaFetcher.fetched_records.__name__ == "fetched_records_in_turn"


@pytest.mark.parametrize("method", ["seek_to_committed", "earliest_offsets", "seek_wait"])
def test_the_consumer_calls_the_rewind_makes_are_still_coroutines(method: str) -> None:
    assert inspect.iscoroutinefunction(getattr(faust_aiokafka.Consumer, method))


def test_the_gap_faust_records_still_takes_a_partition_and_an_inclusive_range() -> None:
    parameters = list(inspect.signature(Consumer._add_gap).parameters)
    assert parameters == ["self", "tp", "offset_from", "offset_to"]
    assert inspect.iscoroutinefunction(Consumer._add_gap)


def test_faust_still_flushes_its_producer_right_before_it_commits_offsets() -> None:
    source = inspect.getsource(Consumer._commit_offsets)
    flush = source.index("await self.app.producer.flush()")
    assert flush < source.index("await self._commit(committable_offsets)")


def test_flushing_the_engine_apps_producer_runs_before_commit() -> None:
    app = engine.EngineApp("seam-test", broker="kafka://127.0.0.1:9")
    flushed: list[str] = []

    async def ours() -> None:
        flushed.append("outputs")

    app.before_commit.append(ours)

    async def flush_faust_producer() -> None:
        await app.producer.flush()  # what Consumer._commit_offsets awaits

    asyncio.run(flush_faust_producer())
    assert flushed == ["outputs"]


def test_a_new_worker_is_unready_until_its_first_assignment() -> None:
    app = engine.EngineApp("seam-test", broker="kafka://127.0.0.1:9")
    assert engine.unready_by(app) == "its first partition assignment"


def test_a_worker_is_unready_while_it_rebalances() -> None:
    app = engine.EngineApp("seam-test", broker="kafka://127.0.0.1:9")
    app.on_rebalance_start()  # what Faust calls when its partitions are revoked
    assert engine.unready_by(app) == "a rebalance"


def test_a_worker_is_unready_until_its_recovery_completes_then_ready() -> None:
    app = engine.EngineApp("seam-test", broker="kafka://127.0.0.1:9")
    app.on_rebalance_start()
    app.on_rebalance_end()
    assert engine.unready_by(app) == "restoring its tables"
    app.tables.recovery.completed.set()  # Faust's recovery, when the streams resume
    assert engine.unready_by(app) is None


def test_faust_recovery_still_sets_completed_where_it_resumes_the_streams() -> None:
    source = inspect.getsource(type(faust.App("seam-test").tables.recovery))
    assert source.count("self.completed.set()") >= 2  # with and without tables to restore
    assert "consumer.resume_flow()" in source


class NoUtf8(str):
    """A header name that aiokafka's Python builder writes as the bytes FF FE."""

    def encode(self, *args: object, **kwargs: object) -> bytes:  # type: ignore[override]
        return b"\xff\xfe"


def batch_with_an_unreadable_header_name_at_offset_1() -> bytes:
    builder = _DefaultRecordBatchBuilderPy(2, 0, False, -1, -1, -1, 1 << 20)
    for offset in range(3):
        headers = [(NoUtf8("x") if offset == 1 else "x", b"v")]
        builder.append(offset, 1_700_000_000_000, b"k", b"v%d" % offset, headers)
    return bytes(builder.build())


def test_aiokafka_still_fails_on_a_header_name_that_is_no_utf8() -> None:
    """The premise of ``end_batches_at_unreadable_headers``: when aiokafka reads such
    names itself, this fails and the hook can go."""
    batch = MemoryRecords(batch_with_an_unreadable_header_name_at_offset_1()).next_batch()
    assert batch is not None
    with pytest.raises(UnicodeDecodeError):
        list(batch)


def test_a_batch_ends_at_a_record_whose_header_name_is_no_utf8_and_the_position_passes_it() -> None:
    engine.end_batches_at_unreadable_headers()
    engine.end_batches_at_unreadable_headers()  # a second call changes nothing
    records = MemoryRecords(batch_with_an_unreadable_header_name_at_offset_1())
    fetched = PartitionRecords(TopicPartition("t", 0), records, [], 0, None, None, True, 0)
    assert [record.offset for record in fetched] == [0]
    assert fetched.next_fetch_offset == 3  # offsets 1 and 2 are left to the continuity guard


def test_faust_still_says_when_it_rebalances_or_restores_and_what_it_owns() -> None:
    """What the idle agents' tail check asks (``settled``, ``owned``)."""
    app = engine.EngineApp("seam-test", broker="kafka://127.0.0.1:9")
    assert engine.settled(app)
    assert engine.unsettled_by(app) is None
    app.rebalancing = True
    assert not engine.settled(app)
    assert engine.unsettled_by(app) == "a rebalance"
    app.rebalancing = False
    app.tables.recovery.in_recovery = True  # type: ignore[attr-defined]
    assert not engine.settled(app)
    assert engine.unsettled_by(app) == "restoring its tables"
    assert callable(faust_aiokafka.Consumer.assignment)


def test_what_stages_hold_back_is_handed_over_before_the_outputs_are_flushed() -> None:
    # The aggregate publishes its totals in before_flush: handed over after the flush,
    # they could miss the commit of the reports that moved them.
    settings = Settings()
    app = create_app(settings, PetitionLookup(settings))
    order: list[str] = []

    class Outputs:
        async def flush(self) -> None:
            order.append("flush")

    async def hand_over() -> None:
        order.append("hand over")

    app.use_outputs(Outputs())  # type: ignore[arg-type]
    app.before_flush.append(hand_over)

    async def flush_faust_producer() -> None:
        await app.producer.flush()  # what Consumer._commit_offsets awaits

    asyncio.run(flush_faust_producer())
    assert order == ["hand over", "flush"]


def test_a_revocation_reaches_on_revoked_as_topic_and_partition() -> None:
    app = faust.App("seam-revoke", broker="kafka://127.0.0.1:9")
    forgotten: list[list[tuple[str, int]]] = []
    engine.on_revoked(app, forgotten.append)
    revoked = {faust.types.TP("t", 1)}
    asyncio.run(app.on_partitions_revoked.send(revoked))
    assert forgotten == [[("t", 1)]]
