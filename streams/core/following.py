"""A process's own copy of a small compacted topic: read from its start, then followed.

The petition catalogue (``streams.catalogue``) and the signers' wrapped keys
(``streams.signerkeys``) are such topics: every process that needs them holds all of
it in memory, loaded before it serves and kept current by a background thread. What a
record means is the owner's business (``apply``); reading, following and knowing how
fresh the copy is lives here, once.

``fresh_as_of`` says up to when the copy is complete: every record Kafka had logged by
then is applied. A reader that must not miss a record logged a moment before (the
validate agent asking for a petition, the mailer for a key) waits for it
(``ensure_fresh``, ``fresh_since``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from confluent_kafka import KafkaException, TopicPartition

from streams.core import kafka
from streams.core.errors import CountersignError
from streams.core.settings import Settings

log = logging.getLogger(__name__)

#: A broker's parked fetch is not woken by the first record on a partition that never
#: held one (measured on the catalogue: a new petition there arrived after one to two
#: whole 500 ms waits, 2.1 s once under load); most partitions of these small topics
#: are such, so their readers ask often.
FETCH_WAIT_MS = 100
#: How often an async waiter looks whether the copy caught up.
FRESHNESS_CHECK_SECONDS = 0.02
#: While nobody waits for a fresher copy, the follower applies what arrives and looks
#: at the topic's ends only this often (``fresh_as_of`` then lags by up to this);
#: a waiter has it look at once, so that a wait costs one ``ends`` (~1 ms) and the
#: rest of the slice the follower was polling in.
IDLE_LOOK_SECONDS = 1.0
POLL_SLICE_SECONDS = 0.05

Apply = Callable[[bytes | None, bytes | None], None]


class CompactedReader:
    """Reads one compacted topic from its start, handing each record's key and value
    to ``apply`` in log order per partition; ``poll`` then applies what comes next.
    ``missing`` is the error to raise when the topic is absent or cannot be read."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        apply: Apply,
        *,
        group: str,
        missing: type[CountersignError],
        timeout: float = 10.0,
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.apply = apply
        self.missing = missing
        self.timeout = timeout
        self._consumer = kafka.consumer(
            settings, group_id=settings.group_id(group), **{"fetch.wait.max.ms": FETCH_WAIT_MS}
        )
        self._admin = kafka.admin_client(settings)

    def load(self) -> None:
        """Everything up to the current end of the topic."""
        metadata = kafka.cluster_metadata(self._admin, self.settings, self.timeout).topics.get(
            self.topic
        )
        if metadata is None:
            raise self.missing(
                f"topic {self.topic} does not exist (run `countersign topics create`)"
            )
        ends: dict[int, int] = {}
        for partition in metadata.partitions:
            low, high = self._watermarks(partition)
            if high > low:
                ends[partition] = high
        self._consumer.assign([TopicPartition(self.topic, p, 0) for p in metadata.partitions])
        positions = dict.fromkeys(ends, 0)
        while any(positions[p] < ends[p] for p in ends):
            message = self._consumer.poll(self.timeout)
            if message is None:
                raise self.missing(f"timed out reading {self.topic}")
            at, offset = message.partition(), message.offset()
            if not message.error() and at is not None and offset is not None:
                positions[at] = offset + 1
                self.apply(message.key(), message.value())

    def _watermarks(self, partition: int) -> tuple[int, int]:
        """Low and high offsets; a topic created a moment ago may not have a leader
        yet, which is worth waiting for rather than failing on."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(self.topic, partition), timeout=self.timeout
                )
                return low, high
            except KafkaException as exc:
                if time.monotonic() > deadline:
                    raise self.missing(f"cannot read {self.topic}: {exc}") from exc
                time.sleep(0.2)

    def ends(self) -> dict[int, int]:
        """The end of each non-empty partition now (``kafka.partition_ends``)."""
        partitions = [tp.partition for tp in self._consumer.assignment()]
        offsets = kafka.partition_ends(self._admin, self.topic, partitions, self.timeout)
        return {partition: high for partition, (low, high) in offsets.items() if high > low}

    def reached(self, ends: dict[int, int]) -> bool:
        """Whether every record before ``ends`` (``ends()`` of some moment) has been
        applied. Not "the topic's end now": under steady writes a record is nearly
        always on its way, and a copy compared with the moving end never looked
        fresh (the mailer waited for keys.signers for good while the demo signed)."""
        positions = self._consumer.position(self._consumer.assignment())
        return all(tp.offset >= ends[tp.partition] for tp in positions if tp.partition in ends)

    def poll(self, timeout: float) -> bool:
        """Apply what arrived within ``timeout``; True when something was applied."""
        changed = False
        for message in self._consumer.consume(100, timeout=timeout):
            if not message.error():
                self.apply(message.key(), message.value())
                changed = True
        return changed

    def close(self) -> None:
        self._consumer.close()


class Following:
    """Keeps a ``CompactedReader`` applied in a background thread and says how fresh
    the copy is. ``changed`` runs on that thread after records were applied (an owner
    publishes a new snapshot there, so that readers never see one half-built)."""

    def __init__(self, name: str, reader: Callable[[], CompactedReader]) -> None:
        self.name = name
        self._new_reader = reader
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Seconds since the epoch: every record logged before then is applied.
        self.fresh_as_of = 0.0
        self._fresher = threading.Condition()
        #: Set while someone waits for a fresher copy: the follower looks at once.
        self._wanted = threading.Event()

    def changed(self) -> None:
        """Records were applied (on the follower's thread, or at the first load)."""

    @property
    def following(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Load the whole topic (blocking), then follow it in a daemon thread."""
        reader = self._new_reader()
        started = time.time()
        reader.load()
        self.changed()
        self._mark_fresh(started)
        self._thread = threading.Thread(
            target=self._follow, args=(reader,), name=self.name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def ensure_fresh(self, logged_at: float, timeout: float = 5.0) -> bool:
        """Wait (up to ``timeout``) until the copy holds everything logged by
        ``logged_at``; True if it does. Returns at once in the usual case."""
        deadline = time.monotonic() + timeout
        with self._fresher:
            while self.fresh_as_of < logged_at:
                if not self.following:
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wanted.set()
                self._fresher.wait(left)
        return True

    async def fresh_since(self, asked_at: float, timeout: float = 5.0) -> bool:
        """``ensure_fresh`` on the event loop: waits holding no thread, so a flood of
        questions cannot starve the process's other work."""
        deadline = time.monotonic() + timeout
        while self.fresh_as_of < asked_at and time.monotonic() < deadline:
            if not self.following:
                break
            self._wanted.set()
            await asyncio.sleep(FRESHNESS_CHECK_SECONDS)
        return self.fresh_as_of >= asked_at

    def _mark_fresh(self, as_of: float) -> None:
        with self._fresher:
            self.fresh_as_of = as_of
            self._fresher.notify_all()

    def _follow(self, reader: CompactedReader) -> None:
        try:
            while not self._stop.is_set():
                checked = time.time()
                self._wanted.clear()
                try:
                    ends = reader.ends()  # everything logged by ``checked`` is before these
                    while not reader.reached(ends):
                        if self._stop.is_set():
                            return
                        if reader.poll(0.1):
                            self.changed()
                    self._mark_fresh(checked)
                    self._wait_for_records(reader)
                except KafkaException as exc:  # a broker hiccup: try again, stay alive
                    log.warning("%s follower: %s; retrying in 1 s", self.name, exc)
                    time.sleep(1)
                except Exception:  # a bug in applying a record: said, and kept following
                    # (a dead follower would look like a copy that never catches up).
                    log.exception("%s follower: a record could not be applied", self.name)
                    time.sleep(1)
        finally:
            reader.close()

    def _wait_for_records(self, reader: CompactedReader) -> None:
        """Apply what arrives within ``IDLE_LOOK_SECONDS``, or less once someone waits."""
        deadline = time.monotonic() + IDLE_LOOK_SECONDS
        while not self._wanted.is_set() and not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if reader.poll(min(left, POLL_SLICE_SECONDS)):
                self.changed()
