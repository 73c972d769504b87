"""The floor under any design on this machine: the fixed parts alone, end to end.

    .venv/bin/python -m bench.floor [--events 60000] [--per-record 50] [--no-pipeline]

Issue 25 asks for 10,000 signatures/s at 20 or more a record, on this 2-vCPU
machine with the broker, the worker and the sink on it. Whatever the worker's design,
each signature costs at least what the fixed choices cost: an Avro record read and one
written (fastavro), a Kafka record produced and consumed (confluent-kafka and the
broker), and a row inserted into ClickHouse by the sink. This bench measures that,
three ways over the same events, in one run:

- ``bare``: a confluent-kafka loop in a process of its own, no Faust, reads the
  submitted records, decodes every signature and writes a SignatureAccepted for it
  with no rule applied (fields copied), on the record's partition. ``countersign
  serve``, the sink as it ships, inserts the rows.
- ``rules``: the same loop, but each record goes through ``validate_record``, the
  worker's rules (judge and the dedupe decision over an in-memory ledger; every event
  here is on its home partition, so nothing is sent home): the rules without Faust.
- ``countersign``: the pipeline as it ships (``bench.pipeline``'s end-to-end run).

Each clock starts when the records are produced (after its consumers are ready) and
stops when the sink has written a row for every output the loop gave (``bare``,
``rules``) or when the API's counts equal the truth (``countersign``). A rate is
printed against another only when both ends were reached. Results go to
bench/results/floor.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from confluent_kafka import TopicPartition

from bench.machine import RESULTS_DIR, cpu_seconds, describe, save_report
from bench.pipeline import WORKER_PORT, end_to_end, fresh_settings
from bench.profile_worker import metric_samples, top
from bench.stages import offline_validate
from schemas.batch import items_of
from schemas.codec import codec
from streams.catalogue.store import read_catalogue, window
from streams.core import kafka
from streams.core.children import environment, free_port
from streams.core.errors import MalformedMessage
from streams.core.settings import Settings
from streams.core.topicspecs import SUBMITTED
from streams.rules.ledger import DedupeLedger
from streams.rules.outputs import Route
from streams.rules.petitions import PetitionWindow
from streams.rules.verdict import SourcePosition
from streams.testing.cleanup import delete_run_topics
from streams.testing.dataset import dataset_with_truth
from streams.testing.processes import ServeProcess, as_records, prepare, produce

RESULTS = RESULTS_DIR / "floor.json"
#: The routes whose records the sink writes as rows (signatures, rejections).
ROWS_OF = {Route.ACCEPTED, Route.REJECTED}
LOOP_TIMEOUT_SECONDS = 900

#: What the loop does with one record of signatures.submitted (position, key, value):
#: the (route, value) of every output the sink writes as a row.
Step = Callable[[SourcePosition, bytes | None, bytes | None], list[tuple[str, bytes]]]


def bare_outputs(accepted_at: datetime) -> Step:
    """``validate_record``'s stand-in with no rules: a SignatureAccepted per readable
    signature, its fields copied from the submission (undecodable ones are skipped)."""
    submitted, accepted = codec("SignatureSubmitted"), codec("SignatureAccepted")

    def outputs(
        position: SourcePosition, key: bytes | None, value: bytes | None
    ) -> list[tuple[str, bytes]]:
        given = []
        for index, (_, item) in enumerate(items_of(key, value)):
            try:
                event = submitted.decode(item)
            except MalformedMessage:
                continue
            record = {
                "signature_id": event["signature_id"],
                "petition_id": event["petition_id"],
                "email_hash": event["signature_id"],
                "full_name": event["full_name"] or "",
                "consent_to_publish_name": event["consent_to_publish_name"],
                "country": event["country"],
                "region": "Europe and Central Asia",
                "postal_code": event["postal_code"],
                "submitted_at": event["submitted_at"],
                "accepted_at": accepted_at,
                "source": event["source"],
                "locale": event["locale"],
                "source_topic": position.topic,
                "source_partition": position.partition,
                "source_offset": position.offset,
                "source_index": index,
                "confirmation_required": False,
                "email_domain": "example.org",
                "network": None,
                "user_agent": None,
                "email_hash_key_id": "",
                "personal": None,
                "data_key_id": None,
            }
            given.append((Route.ACCEPTED.value, accepted.encode(record)))
        return given

    return outputs


def rules_outputs(settings: Settings, windows: dict[str, PetitionWindow], now: datetime) -> Step:
    """The worker's rules as the loop's step: ``validate_record`` with an in-memory
    dedupe ledger, every output that the sink writes."""
    validate = offline_validate(settings, windows, now, DedupeLedger({}))

    def outputs(
        position: SourcePosition, key: bytes | None, value: bytes | None
    ) -> list[tuple[str, bytes]]:
        return [
            (output.route.value, output.value)
            for output in validate(position, key, value)
            if output.route in ROWS_OF
        ]

    return outputs


def run_loop(records: int, with_rules: bool) -> None:
    """The loop process: consume ``records`` records of signatures.submitted, produce
    what the step gives, flush; print what it produced and its CPU as JSON."""
    settings = Settings()
    now = datetime.now(UTC)
    if with_rules:
        # The windows the worker would judge by: the catalogue on Kafka.
        windows = {pid: window(p) for pid, p in read_catalogue(settings).items()}
        step = rules_outputs(settings, windows, now)
    else:
        step = bare_outputs(now)
    source = settings.topic(SUBMITTED.name)
    topics = {route.value: settings.topic(route.value) for route in ROWS_OF}
    consumer = kafka.consumer(settings, group_id=f"{settings.topic_prefix}floor")
    consumer.assign([TopicPartition(source, p, 0) for p in range(settings.topic_partitions)])
    producer = kafka.producer(settings)
    print("ready", flush=True)
    produced = dict.fromkeys(topics, 0)
    seen = 0
    cpu_started = time.process_time()
    deadline = time.monotonic() + LOOP_TIMEOUT_SECONDS
    while seen < records and time.monotonic() < deadline:
        for message in consumer.consume(200, timeout=0.5):
            if message.error():
                continue
            seen += 1
            partition = cast(int, message.partition())
            position = SourcePosition(source, partition, cast(int, message.offset()))
            for route, value in step(position, message.key(), message.value()):
                kafka.produce_waiting(producer, topics[route], value, None, partition=partition)
                produced[route] += 1
        producer.poll(0)
    left = producer.flush(60)
    print(
        json.dumps(
            {
                "records": seen,
                "produced": produced,
                "unsent": left,
                "cpu_s": round(time.process_time() - cpu_started, 2),
            }
        ),
        flush=True,
    )


def sink_rows(settings: Settings, port: int) -> int:
    """Rows the sink of ``serve`` on ``port`` has written so far (its /metrics)."""
    return sum(
        int(sample.value)
        for sample in metric_samples(port, settings)
        if sample.name == "countersign_sink_rows_total"
    )


def floor_run(
    settings: Settings,
    events: list[Any],
    petitions: list[Any],
    per_record: int,
    *,
    rules: bool,
    spy_seconds: int = 0,
) -> dict[str, Any]:
    """One loop-and-sink run; events per second from the first record produced to the
    sink's last row. ``spy_seconds``: py-spy samples the loop that long (at the
    start of the run), into bench/results/profile-floor-<bare|rules>.txt."""
    prepare(settings, petitions)
    label = "rules" if rules else "bare"
    port = free_port()
    log = settings.data_dir / "floor.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with ServeProcess(settings, log, port) as serve:
        serve.start_serving({})
        assert serve.process is not None
        rows_before = sink_rows(settings, port)
        records = len(as_records(events, settings.topic_partitions, per_record))
        loop = subprocess.Popen(
            [sys.executable, "-m", "bench.floor", "--loop", str(records)]
            + (["--rules"] if rules else []),
            env=environment(settings),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert loop.stdout is not None
        if loop.stdout.readline().strip() != "ready":
            raise RuntimeError("the floor loop did not start")
        raw = RESULTS_DIR / f"profile-floor-{label}.collapsed"
        spy = spy_on(loop.pid, spy_seconds, raw) if spy_seconds else None
        serve_cpu = cpu_seconds(serve.process.pid)
        started = time.perf_counter()
        produce(settings, events, per_record=per_record)
        report = json.loads(loop.stdout.readline())
        loop.wait(60)
        expected = sum(report["produced"].values())
        written = 0
        while time.perf_counter() - started < LOOP_TIMEOUT_SECONDS:
            written = sink_rows(settings, port) - rows_before
            if written >= expected:
                break
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        serve_cpu = cpu_seconds(serve.process.pid) - serve_cpu
    if spy is not None:
        _, why = spy.communicate(timeout=60)
        if spy.returncode:
            raise RuntimeError(f"py-spy failed: {why.decode()[-500:]}")
        raw.with_suffix(".txt").write_text(top(raw, 40) + "\n")
    delete_run_topics(settings)
    complete = report["records"] == records and report["unsent"] == 0 and written == expected
    return {
        "events_per_s": round(len(events) / seconds),
        "seconds": round(seconds, 1),
        "complete": complete,
        "rows": written,
        "produced": report["produced"],
        "loop_cpu_us_per_event": round(report["cpu_s"] / len(events) * 1e6),
        "serve_cpu_us_per_event": round(serve_cpu / len(events) * 1e6),
    }


def spy_on(pid: int, seconds: int, raw: Path) -> subprocess.Popen[bytes]:
    """py-spy recording ``pid`` for ``seconds`` in the background, into ``raw``
    (collapsed stacks)."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("py-spy")),
            *("record", "-p", str(pid), "-d", str(seconds), "-r", "200"),
            *("-f", "raw", "-o", str(raw), "--nonblocking"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--per-record", type=int, default=50)
    parser.add_argument("--no-pipeline", action="store_true", help="skip the Countersign run")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--spy",
        type=int,
        default=0,
        metavar="SECONDS",
        help="py-spy the loops that long (bench/results/profile-floor-*.txt)",
    )
    parser.add_argument("--loop", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rules", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loop is not None:
        run_loop(args.loop, args.rules)
        return
    workdir = Path(tempfile.mkdtemp(prefix="floor-"))
    print(f"generating {args.events:,} events ...", flush=True)
    events, petitions, truth = dataset_with_truth(1, args.events, fresh_settings(workdir, "gen"))
    runs: dict[str, dict[str, Any]] = {}
    for name in ("bare", "rules"):
        print(f"{name} ...", flush=True)
        settings = fresh_settings(workdir, name)
        runs[name] = floor_run(
            settings,
            events,
            petitions,
            args.per_record,
            rules=name == "rules",
            spy_seconds=args.spy,
        )
        print(f"  {runs[name]}", flush=True)
    if not args.no_pipeline:
        print("countersign ...", flush=True)
        settings = fresh_settings(workdir, "countersign")
        log = workdir / "countersign.log"
        result = end_to_end(
            settings, events, petitions, truth, log, WORKER_PORT, per_record=args.per_record
        )
        runs["countersign"] = {**result, "complete": result["counts_exact"]}
        print(f"  {runs['countersign']}", flush=True)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "events": len(events),
        "per_record": args.per_record,
        "runs": runs,
    }
    bare = runs["bare"]
    print(f"\n{'run':<12} {'events/s':>9}  {'of bare':>7}  complete")
    for name, run in runs.items():
        both = run["complete"] and bare["complete"]
        share = f"{run['events_per_s'] / bare['events_per_s']:.2f}" if both else "-"
        print(f"{name:<12} {run['events_per_s']:>9,}  {share:>7}  {run['complete']}")
    save_report(report, args.output, echo=False)
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
