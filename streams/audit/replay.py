"""``countersign replay``: the whole pipeline re-run over a range of the audit log in
a namespace of its own, beside the live one and without touching it.

The namespace ``NAME`` is a topic prefix (``<prefix>replay.NAME.``), hence its own
consumer groups and Faust topics, a data directory of its own
(``<data dir>/replay/NAME``: RocksDB tables and, with the embedded engine, its own
ClickHouse) and a ClickHouse database of its own (``<database>_replay_NAME``, for a
ClickHouse server). The range of ``signatures.submitted`` is copied into the
namespace partition by partition, keys, values and log times kept (the rules judge
against the log time), with the catalogue; then a ``countersign worker`` and a
``countersign serve`` of the namespace count it, and the replay's counts are set
beside the live ones.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

from streams.audit.as_of import coverage, live_as_of
from streams.audit.reconcile import petition_windows, recount_log, signer_logs_in
from streams.audit.recount import Recount
from streams.audit.serve_client import ServeClient
from streams.catalogue.store import publish_petition, read_catalogue, window
from streams.core import kafka
from streams.core.children import ChildProcess, environment, free_port
from streams.core.errors import ChildFailed, CountersignError
from streams.core.logscan import LogRange, LogRecord, scan, whole_log
from streams.core.settings import Settings
from streams.core.topics import create_topics, describe_topics
from streams.core.topicspecs import CONFIRMATIONS, MODERATIONS, SUBMITTED, VALID

log = logging.getLogger(__name__)


class ReplayError(CountersignError, ValueError):
    """A replay that cannot start: a bad range or namespace name."""


def namespace(settings: Settings, name: str) -> Settings:
    """The settings of replay ``name``: everything it writes is apart from the live."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ReplayError(f"namespace {name!r}: use letters, digits, '-' and '_'")
    data_dir = settings.data_dir / "replay" / name
    dsn = settings.clickhouse_dsn
    if dsn is None or dsn.startswith("chdb://"):  # the replay's own embedded engine
        dsn = f"chdb://{(data_dir / 'clickhouse').resolve()}"
    return settings.model_copy(
        update={
            "topic_prefix": f"{settings.topic_prefix}replay.{name}.",
            "data_dir": data_dir,
            "clickhouse_dsn": dsn,
            "clickhouse_database": f"{settings.clickhouse_database}_replay_"
            + name.replace("-", "_"),
        }
    )


def parse_bound(value: str | None) -> int | datetime | None:
    """An offset (every partition) or an ISO time with a zone."""
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReplayError(f"{value!r} is neither an offset nor an ISO time") from exc
    if moment.tzinfo is None:
        raise ReplayError(f"{value!r}: give a time zone, e.g. 2026-12-01T10:00:00Z")
    return moment


def log_range(
    settings: Settings, start: int | datetime | None, end: int | datetime | None
) -> LogRange:
    """The part of the live log between ``start`` and ``end`` (exclusive), clamped."""
    whole = whole_log(settings, SUBMITTED.name)

    def offsets(bound: int | datetime | None, default: int, partition: int) -> int:
        low, high = whole.offsets[partition]
        if bound is None:
            return default
        if isinstance(bound, int):
            return max(low, min(bound, high))
        reader = kafka.consumer(settings, group_id=settings.group_id("log-reader"))
        try:
            (found,) = reader.offsets_for_times(
                [TopicPartition(whole.topic, partition, int(bound.timestamp() * 1000))], timeout=10
            )
        finally:
            reader.close()
        return high if found.offset < 0 else found.offset

    return LogRange(
        whole.topic,
        {
            p: (offsets(start, low, p), max(offsets(start, low, p), offsets(end, high, p)))
            for p, (low, high) in whole.offsets.items()
        },
    )


@dataclass(frozen=True)
class Copied:
    """What a replay was given: the range, and the confirmations and moderations."""

    records: int
    submitted: LogRange
    confirmations: LogRange
    moderations: LogRange


def copy_log(
    live: Settings, replay: Settings, source: LogRange, on_progress: Callable[[int], None]
) -> Copied:
    """The range into the namespace's signatures.submitted, partition for partition,
    with the records' log times (the namespace's topic keeps the producer's times),
    and with it every confirmation and moderation logged so far (the counts follow
    them too; each goes to the same partition, its signer's home). A namespace is
    used once: one that holds records already is refused."""
    target = replay.topic(SUBMITTED.name)
    admin = kafka.admin_client(replay)
    exists = target in kafka.cluster_metadata(admin, replay, 10).topics
    if exists and whole_log(replay, SUBMITTED.name).records:
        raise ReplayError(
            f"namespace {replay.topic_prefix!r} holds a replay already: pick another name"
        )
    create_topics(replay)
    resource = ConfigResource(
        ConfigResource.Type.TOPIC,
        target,
        incremental_configs=[
            ConfigEntry(
                "message.timestamp.type", "CreateTime", incremental_operation=AlterConfigOpType.SET
            )
        ],
    )
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)
    _wait_for_create_time(replay, target)
    for petition in read_catalogue(live).values():
        publish_petition(replay, petition)
    producer = kafka.producer(replay, **{"message.max.bytes": 4 * 1024 * 1024, "linger.ms": 20})
    failures: list[str] = []

    delivered = kafka.failures_into(failures)

    def copy(records: Iterable[LogRecord], topic: str) -> int:
        copied = 0
        for record in records:
            kafka.produce_waiting(
                producer,
                topic,
                record.value,
                record.key,
                partition=record.partition,
                timestamp=int((record.timestamp or time.time()) * 1000),
                on_delivery=delivered,
            )
            copied += 1
        return copied

    copied = copy(scan(live, source, on_progress), target)
    followers = [whole_log(live, follower.name) for follower in (CONFIRMATIONS, MODERATIONS)]
    for follower, log_range_of in zip((CONFIRMATIONS, MODERATIONS), followers, strict=True):
        copy(scan(live, log_range_of), replay.topic(follower.name))
    if producer.flush(60) or failures:
        raise ReplayError(f"Kafka did not take the replay's copy: {failures[:3]}")
    return Copied(copied, source, *followers)


def _wait_for_create_time(replay: Settings, topic: str, timeout: float = 30) -> None:
    """Until the broker stamps the copy with the producer's (the original) times."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for described in describe_topics(replay):
            if described.name == topic and (
                described.config.get("message.timestamp.type") == "CreateTime"
            ):
                return
        time.sleep(0.5)
    raise ReplayError(f"{topic} did not switch to CreateTime in {timeout:g} s")


@dataclass
class Comparison:
    petition: str
    live: dict[str, Any]
    replayed: dict[str, Any]
    #: The petition asks for confirmation: a re-sign is a duplicate once its signer
    #: confirmed, else a resend of the mail. Live, that follows when each arrived; a
    #: replay reads the confirmations beside the signatures, in another order, so
    #: only the duplicates may differ (every count, pending included, may not).
    confirmation: bool = False
    #: The live numbers as the API showed them (``live`` is them as of the replay's
    #: end, where that could be worked out).
    shown: dict[str, Any] | None = None

    @property
    def agrees(self) -> bool:
        keys = ("total", "pending", "by_country")
        if any(self.live.get(k) != self.replayed.get(k) for k in keys):
            return False
        live, replayed = dict(self.live["rejected"]), dict(self.replayed["rejected"])
        if self.confirmation:
            live.pop("duplicate", None)
            replayed.pop("duplicate", None)
        return live == replayed


class ReplayPipeline:
    """The namespace's worker and serve, as child processes."""

    def __init__(self, replay: Settings) -> None:
        replay.data_dir.mkdir(parents=True, exist_ok=True)
        self.settings = replay
        self.api_port, self.worker_port = free_port(), free_port()
        self.worker = ChildProcess(replay, replay.data_dir / "worker.log")
        self.serve = ChildProcess(replay, replay.data_dir / "serve.log")

    def __enter__(self) -> ReplayPipeline:
        env = environment(
            self.settings,
            {
                "COUNTERSIGN_API_PORT": str(self.api_port),
                "COUNTERSIGN_WORKER_PORT": str(self.worker_port),
                "COUNTERSIGN_API_URL": f"http://127.0.0.1:{self.api_port}",
                # serve samples its sink's lag in the background; ``lag`` below waits on
                # it, so it is read often here (a stale 0 must not end the wait early).
                "COUNTERSIGN_LAG_SAMPLE_SECONDS": "0.5",
            },
        )
        self.worker.spawn(["worker", "--loglevel", "warn"], env)
        self.serve.spawn(["serve"], env)
        deadline = time.monotonic() + 180
        try:
            self.worker.wait_for_health("replay worker", self.worker_port, deadline)
            self.serve.wait_for_health("replay serve", self.api_port, deadline)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.worker.stop()
        self.serve.stop()

    def lag(self) -> int:
        """Records the namespace's worker and sink have yet to handle."""
        url = f"http://127.0.0.1:{self.api_port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                health = json.load(answer)
        except urllib.error.HTTPError as unhealthy:  # 503 still carries the checks
            health = json.loads(unhealthy.read())
        sink = health["checks"].get("sink", {})
        group = self.settings.group_id()  # the Faust app's: it reads these
        topics = [
            *(self.settings.topic(t.name) for t in (SUBMITTED, VALID, CONFIRMATIONS, MODERATIONS)),
            f"{group}-partial-counts",
        ]
        worker = kafka.group_lag(self.settings, group, topics)
        return worker + int(sink.get("lag") or 0)

    def wait_until_counted(self, timeout: float, on_lag: Callable[[int], None]) -> None:
        """Until the worker has read everything and the counts stop moving."""
        client = ServeClient(
            self.settings.model_copy(update={"api_url": f"http://127.0.0.1:{self.api_port}"})
        )
        deadline = time.monotonic() + timeout
        still, last = 0, None
        while time.monotonic() < deadline:
            if not self.worker.alive():
                raise ChildFailed(f"the replay worker exited:\n{self.worker.log_tail()}")
            lag = self.lag()
            on_lag(lag)
            counts = client.get("/counts")
            still = still + 1 if lag == 0 and counts == last else 0
            if still >= 3:
                return
            last = counts
            time.sleep(2)
        raise ChildFailed(f"the replay did not settle in {timeout:g} s")


def compare(
    live: Settings,
    pipeline: ReplayPipeline,
    petitions: list[str],
    copied: Copied,
    on_progress: Callable[[int], None] = lambda _: None,
) -> list[Comparison]:
    """Each petition's replayed numbers beside the live ones. When the replay began at
    the log's start, the live numbers are taken as of the replay's end: each live
    number carries its cut, and the log between that cut and the replay's end is
    recounted (``streams.audit.as_of``), so a live pipeline that counted on since
    still agrees. A partial range is compared with the live numbers as shown."""
    live_client = ServeClient(live)
    replay_client = ServeClient(
        pipeline.settings.model_copy(update={"api_url": f"http://127.0.0.1:{pipeline.api_port}"})
    )
    catalogue = read_catalogue(live)
    shown = {
        petition: live_client.get(f"/api/petitions/{petition}/counts?cut=1", ops=False)
        for petition in petitions
    }
    end = coverage(
        copied.submitted, copied.confirmations, copied.moderations, live.topic_partitions
    )
    log = whole_log(live, SUBMITTED.name)  # read after the live numbers: holds their cuts
    from_start = all(
        copied.submitted.offsets[p][0] == low
        for p, (low, _) in log.offsets.items()
        if p in copied.submitted.offsets
    )
    recount: Recount | None = None
    rejected: dict[str, dict[str, int]] = {}
    if from_start:
        windows = petition_windows(live)
        recount = recount_log(live, log, windows, on_progress, signers=signer_logs_in(live))
        rows = live_client.post("/counts-at", json.loads(end.to_json()))["rejected"]
        for petition, reason, n in rows:
            rejected.setdefault(petition, {})[reason] = n
    comparisons = []
    for petition in petitions:
        asks = petition in catalogue and window(catalogue[petition]).needs_confirmation
        numbers = shown[petition]
        as_of = None
        if recount is not None:
            as_of = live_as_of(recount, petition, numbers, end, rejected.get(petition, {}))
        comparisons.append(
            Comparison(
                petition,
                numbers if as_of is None else as_of,
                replay_client.get(f"/api/petitions/{petition}/counts", ops=False),
                confirmation=asks,
                shown=numbers,
            )
        )
    return comparisons
