"""Countersign's pipeline rules written idiomatically in Quix Streams: a benchmark peer.

It consumes ``<prefix>signatures.submitted`` (already filled by the caller), judges every
record, keeps the first valid signature per dedupe key and counts the winners per
(petition, country), then prints one JSON line: ``events``, ``seconds`` (from
``app.run()`` until the outputs equal ``--expect``), ``events_per_s``, ``counts_exact``
and ``first_output_seconds`` (start-up until the first output).

The verdict is our own pure ``streams.rules.verdict.judge`` and the dedupe decision our
``streams.rules.dedupe.decide``, so a comparison with the Faust worker measures the
frameworks, not two spellings of the rules. The Quix part is the idiomatic shape: a
``group_by`` by dedupe key with a stateful first-wins ``apply`` on RocksDB ``State``,
then a running count per ``petition:country``. Quix refuses a ``group_by`` of a
``group_by`` (``GroupByNestingLimit``), so the winners go through an explicit
``<run>.winners`` topic keyed by ``petition:country``: the same repartition. Rejections
and duplicates go to ``<run>.rejected``, one per verdict with its source position, as
the Faust worker writes signatures.rejected / duplicates; counts go to ``<run>.counts``.
``<run>`` is ``<prefix>quix-<random>``, also the consumer group; every topic named after
it is deleted at the end (unless ``--keep-topics``).

Quix Streams pins confluent-kafka<2.13, so this runs in its own venv (never imports
Faust, aiokafka or ClickHouse)::

    PYTHONPATH=. .venv-quix/bin/python bench/quix_peer.py --prefix P --petitions F \\
        --hash-key K --now ISO --expect F [--bootstrap 127.0.0.1:9092] [--timeout 600]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from quixstreams import Application, State, message_context
from quixstreams.models import TopicConfig

from streams.rules.dedupe import Outcome, Winner, decide, duplicate_detail
from streams.rules.keys import count_key
from streams.rules.petitions import PetitionWindow
from streams.rules.verdict import Accepted, SourcePosition, judge

Value = dict[str, Any]
#: What a duplicate's verdict keeps of the signature (a SignatureRejected's fields).
DUPLICATE_FIELDS = ("signature_id", "petition_id", "email_hash", "source_topic")
POSITION_FIELDS = ("source_partition", "source_offset")


def jsonable(record: Value) -> Value:
    """A verdict record as JSON can carry it (Quix's orjson passes datetimes through)."""
    return {
        k: v.isoformat() if isinstance(v, datetime) else v.hex() if isinstance(v, bytes) else v
        for k, v in record.items()
    }


def build(
    app: Application,
    source: str,
    run: str,
    *,
    windows: dict[str, PetitionWindow],
    now: datetime,
    hash_key: bytes,
) -> tuple[str, str]:
    """The dataframes of the pipeline; returns the names of its two output topics (counts,
    rejected). Every topic it creates is named after ``run``, its consumer group."""
    submitted = app.topic(source, key_deserializer="bytes", value_deserializer="bytes")
    like_source = submitted.broker_config  # same partitions and replication as the source
    partitions = TopicConfig(like_source.num_partitions, like_source.replication_factor)
    winners = app.topic(
        f"{run}.winners", key_serializer="str", key_deserializer="str", config=partitions
    )
    rejected = app.topic(f"{run}.rejected", key_serializer="str", config=partitions)
    counts = app.topic(f"{run}.counts", key_serializer="str", config=partitions)

    def validate(raw: bytes, key: bytes, _timestamp: int, _headers: object) -> Value:
        context = message_context()
        position = SourcePosition(context.topic, context.partition, context.offset)
        verdict = judge(raw, key, position, petitions=windows, now=now, hash_key=hash_key)
        if isinstance(verdict, Accepted):
            return {"dedupe_key": str(verdict.dedupe_key), **jsonable(verdict.record)}
        return jsonable(verdict.record)  # a rejection: the only records with a "reason"

    def first_wins(signature: Value, state: State) -> Value:
        """Our dedupe rule on Quix's per-key RocksDB state: the first in stream order.
        ``decide`` answers (outcome, entry): a peer that read only the outcome once
        stored nothing and forwarded every duplicate as a winner (never exact)."""
        # Quix's group_by repartitions by dedupe key: no home partition to remember.
        candidate = Winner(
            signature["country"],
            signature["source_partition"],
            signature["source_offset"],
            0,
            signature.get("source_index") or 0,
        )
        stored = state.get("winner")
        previous = None if stored is None else Winner(*stored[:3], 0, stored[3])
        outcome, _ = decide(candidate, previous)
        if outcome is Outcome.ACCEPTED:
            state.set(
                "winner",
                [candidate.country, candidate.partition, candidate.offset, candidate.index],
            )
        if outcome is not Outcome.DUPLICATE:  # a replayed winner is forwarded again
            return signature
        assert previous is not None
        verdict = {k: signature[k] for k in (*DUPLICATE_FIELDS, *POSITION_FIELDS)}
        detail = duplicate_detail(signature["petition_id"], previous)
        return verdict | {"reason": "duplicate", "detail": detail}

    def count(winner: Value, state: State) -> Value | None:
        """A running count of first winners only: a winner forwarded again (a replay
        after a crash, at-least-once) is remembered by its dedupe key and not counted
        twice, so the count can never overshoot."""
        if state.get(winner["dedupe_key"]) is not None:
            return None
        state.set(winner["dedupe_key"], 1)
        signatures: int = state.get("signatures", 0) + 1
        state.set("signatures", signatures)
        total = {k: winner[k] for k in ("petition_id", "region", "country")}
        return total | {"signatures": signatures}

    def position_key(verdict: Value) -> str:
        return f"{verdict['source_partition']}/{verdict['source_offset']}"

    def petition_country(value: Value) -> str:
        return count_key(value["petition_id"], value["country"])

    verdicts = app.dataframe(submitted).apply(validate, metadata=True)
    verdicts.filter(lambda v: "reason" in v).to_topic(rejected, key=position_key)
    valid = verdicts.filter(lambda v: "reason" not in v).group_by("dedupe_key", name="dedupe")
    valid = valid.apply(first_wins, stateful=True)
    valid.filter(lambda v: "reason" in v).to_topic(rejected, key=position_key)
    valid.filter(lambda v: "reason" not in v).to_topic(winners, key=petition_country)
    tally = app.dataframe(winners).apply(count, stateful=True)
    tally.filter(lambda v: v is not None).to_topic(counts, key=petition_country)
    return counts.name, rejected.name


class Watcher:
    """Reads the output topics with a plain consumer until they equal the expectation."""

    def __init__(self, bootstrap: str, topics: tuple[str, str], expect: Value) -> None:
        self.counts_topic, self.rejected_topic = topics
        self.expected_counts = Counter({tuple(row[:3]): row[3] for row in expect["counts"]})
        self.expected_reasons = Counter({tuple(row[:2]): row[2] for row in expect["reasons"]})
        self.latest: dict[tuple[str, str, str], int] = {}
        self.verdicts: dict[tuple[int, int], tuple[str, str]] = {}
        self.first_output: float | None = None
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"watch-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
            }
        )
        metadata = self.consumer.list_topics(timeout=10).topics
        self.consumer.assign(
            [
                TopicPartition(topic, partition, OFFSET_BEGINNING)
                for topic in topics
                for partition in metadata[topic].partitions
            ]
        )

    def exact(self) -> bool:
        reasons = Counter(self.verdicts.values())
        return Counter(self.latest) == self.expected_counts and reasons == self.expected_reasons

    def differences(self) -> str:
        """What the peer showed against what it should have, when it gave up: the
        totals, and the first few keys that differ (seen, expected)."""
        shown = {"counts": Counter(self.latest), "verdicts": Counter(self.verdicts.values())}
        wanted = {"counts": self.expected_counts, "verdicts": self.expected_reasons}
        lines = ["gave up:"]
        for kind in ("counts", "verdicts"):
            got, want = shown[kind], wanted[kind]
            wrong = [
                (k, got[k], want[k]) for k in sorted(set(got) | set(want)) if got[k] != want[k]
            ]
            lines.append(
                f"  {kind}: {sum(got.values())} seen, {sum(want.values())} expected; "
                f"{len(wrong)} keys differ {wrong[:5]}"
            )
        return "\n".join(lines)

    def poll(self, started: float) -> None:
        for message in self.consumer.consume(10_000, timeout=0.2):
            if message.error():
                continue
            if self.first_output is None:
                self.first_output = time.perf_counter() - started
            value = json.loads(message.value())
            if message.topic() == self.counts_topic:
                key = (value["petition_id"], value["region"], value["country"])
                self.latest[key] = max(self.latest.get(key, 0), value["signatures"])
            else:  # at-least-once: a verdict is counted once per source position
                position = (value["source_partition"], value["source_offset"])
                self.verdicts[position] = (value["petition_id"], value["reason"])

    def run(self, app: Application, started: float, timeout: float, result: Value) -> None:
        """Until exact or ``timeout``, then stop the app; ``result`` gets the verdict."""
        try:
            while time.perf_counter() - started < timeout and not result.get("app_stopped"):
                self.poll(started)
                if self.exact():
                    result["seconds"], result["counts_exact"] = time.perf_counter() - started, True
                    return
            result["seconds"], result["counts_exact"] = time.perf_counter() - started, False
            print(self.differences(), file=sys.stderr, flush=True)
        finally:
            self.consumer.close()
            app.stop()


def source_events(bootstrap: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"size-{uuid.uuid4().hex}"})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    marks = [consumer.get_watermark_offsets(TopicPartition(topic, p), 10) for p in partitions]
    consumer.close()
    return sum(high - low for low, high in marks)


def delete_run_topics(bootstrap: str, run: str) -> None:
    """The repartition, changelog and output topics of this run (all named after it)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [t for t in admin.list_topics(timeout=10).topics if run in t]
    for future in admin.delete_topics(names, operation_timeout=30).values():
        future.result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--prefix", required=True, help="topic prefix, e.g. bench1a2b3c.")
    parser.add_argument("--petitions", type=Path, required=True, help="{id: [opens, closes]}")
    parser.add_argument("--hash-key", required=True)
    parser.add_argument("--now", type=datetime.fromisoformat, required=True)
    parser.add_argument("--expect", type=Path, required=True, help="{counts: .., reasons: ..}")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after (s)")
    parser.add_argument("--keep-topics", action="store_true")
    parser.add_argument("--loglevel", default="WARNING", help="Quix's, on stderr")
    args = parser.parse_args()

    windows = {
        pid: PetitionWindow(
            pid, datetime.fromisoformat(opens), closes and datetime.fromisoformat(closes)
        )
        for pid, (opens, closes) in json.loads(args.petitions.read_text()).items()
    }
    source = f"{args.prefix}signatures.submitted"
    expect = json.loads(args.expect.read_text())
    expected_events = sum(row[3] for row in expect["counts"]) + sum(
        row[2] for row in expect["reasons"]
    )
    events = source_events(args.bootstrap, source)
    if events != expected_events:  # every record is one verdict: anything else is no run
        sys.exit(f"{source} holds {events} records; the expectation is of {expected_events}")
    run = f"{args.prefix}quix-{uuid.uuid4().hex[:6]}"  # the group, and its topics' stem
    result: Value = {}
    with tempfile.TemporaryDirectory(prefix="quix-peer-") as state_dir:
        app = Application(
            broker_address=args.bootstrap,
            consumer_group=run,
            auto_offset_reset="earliest",
            processing_guarantee="at-least-once",
            state_dir=state_dir,
            loglevel=args.loglevel,
        )
        outputs = build(
            app, source, run, windows=windows, now=args.now, hash_key=args.hash_key.encode()
        )
        watcher = Watcher(args.bootstrap, outputs, expect)
        started = time.perf_counter()
        thread = threading.Thread(
            target=watcher.run, args=(app, started, args.timeout, result), daemon=True
        )
        thread.start()
        try:
            app.run()
        finally:
            result["app_stopped"] = True
            thread.join()
    if not args.keep_topics:
        delete_run_topics(args.bootstrap, run)
    seconds = result["seconds"]
    report = {
        "events": events,
        "seconds": round(seconds, 2),
        "events_per_s": round(events / seconds),
        "counts_exact": result["counts_exact"],
        "first_output_seconds": watcher.first_output and round(watcher.first_output, 2),
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
