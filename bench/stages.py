"""What the rules cost alone: ``validate_record`` over the benchmark's dataset in this
process, with no Kafka, no Faust and no other process (a dict holds the dedupe
winners).

    .venv/bin/python -m bench.stages [--events 30000] [--per-record 1 50] [--repeat 3]

Why: end to end, the worker's CPU per signature mixes the rules with the framework,
the producer, and a machine whose two vCPUs slow each other down. Alone, the rules
give a floor: one worker cannot judge more signatures a second than
1,000,000 / (µs per signature here), whatever happens around them. The same
decodes and encodes are then timed by themselves, which tells how much of that
floor is Avro (fastavro).

Prints a table; writes bench/results/stages.json. ``bench.pipeline`` runs
``rules_cost`` before its end-to-end runs and records it beside them, so that a run
on a slow hour can be told from a slower change.
"""

from __future__ import annotations

import argparse
import functools
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machine import RESULTS_DIR, describe, save_report
from schemas.batch import items_of
from schemas.codec import codec
from streams.catalogue.store import window
from streams.core.errors import MalformedMessage
from streams.core.settings import Settings
from streams.demo.simulator import DemoPetition, Event
from streams.rules.ledger import DedupeLedger
from streams.rules.outputs import Output, Route
from streams.rules.petitions import PetitionWindow
from streams.rules.stages import validate_record
from streams.rules.verdict import SourcePosition, judge
from streams.testing.dataset import dataset_with_truth
from streams.testing.processes import as_records

RESULTS = RESULTS_DIR / "stages.json"
TOPIC = "bench.signatures.submitted"


def rules_cost(
    settings: Settings,
    events: list[Event],
    petitions: list[DemoPetition],
    per_record: int,
    repeat: int = 3,
) -> dict[str, Any]:
    """µs of CPU per signature for validate (judge and the dedupe decision, with
    their outputs encoded), the best of ``repeat`` runs over ``events``, and the
    part of it that the same Avro decodes and encodes take alone."""
    windows = {p.petition_id: window(p.record(now=p.opens_at)) for p in petitions}
    records = as_records(events, settings.topic_partitions, per_record)
    judged_at = datetime.now(UTC)

    def run() -> list[bytes]:
        validate = offline_validate(settings, windows, judged_at, DedupeLedger({}))
        accepted = []
        for offset, (partition, key, value, _) in enumerate(records):
            for output in validate(SourcePosition(TOPIC, partition, offset), key, value):
                if output.route in {Route.ACCEPTED, Route.VALID}:
                    accepted.append(output.value)
        return accepted

    stage_s = best_cpu_seconds(run, repeat)
    accepted_values = run()
    submitted, accepted = codec("SignatureSubmitted"), codec("SignatureAccepted")
    items = [v for _, key, value, _ in records for _, v in items_of(key, value) if decodes(v)]
    accepted_records = [accepted.decode(v) for v in accepted_values]
    decode_s = best_cpu_seconds(lambda: [submitted.decode(v) for v in items], repeat)
    encode_s = best_cpu_seconds(lambda: [accepted.encode(r) for r in accepted_records], repeat)
    per_signature = stage_s / len(events) * 1e6
    return {
        "per_record": per_record,
        "signatures": len(events),
        "records": len(records),
        "us_per_signature": round(per_signature, 1),
        "avro_decode_us_per_signature": round(decode_s / len(events) * 1e6, 1),
        "avro_encode_us_per_signature": round(encode_s / len(events) * 1e6, 1),
        "avro_share": round((decode_s + encode_s) / stage_s, 2),
        "ceiling_signatures_per_s": round(1e6 / per_signature),
    }


def offline_validate(
    settings: Settings,
    windows: Mapping[str, PetitionWindow],
    now: datetime,
    ledger: DedupeLedger,
) -> Callable[[SourcePosition, bytes | None, bytes | None], Iterator[Output]]:
    """``validate_record`` as the worker's agent calls it, without Faust: a catalogue
    that does not change, one clock reading for every verdict, and ``ledger`` for the
    dedupe decisions. What ``bench.floor``'s rules loop and ``rules_cost`` run."""
    judge_here = functools.partial(
        judge,
        petitions=windows,
        hash_key=settings.hash_key,
        submitted_codec=codec("SignatureSubmitted"),
        hash_key_id=settings.email_hash_key_id,
        previous_keys=settings.previous_hash_keys,
        now=now,
    )

    def validate(
        position: SourcePosition, key: bytes | None, value: bytes | None
    ) -> Iterator[Output]:
        return validate_record(
            position,
            key,
            value,
            judge=lambda k, v, at: judge_here(v, k, at),
            ledger=ledger,
            partitions=settings.topic_partitions,
            now=lambda: now,
        )

    return validate


def decodes(value: bytes | None) -> bool:
    """Whether a submission is readable (the dataset holds malformed ones on purpose)."""
    try:
        codec("SignatureSubmitted").decode(value)
    except MalformedMessage:
        return False
    return True


def best_cpu_seconds(work: Any, repeat: int) -> float:
    """The least CPU time (this process) ``work()`` took in ``repeat`` calls: the run
    least disturbed by the rest of the machine."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--per-record", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the best counts")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    # Settings only: nothing here reaches Kafka or writes under the data directory.
    settings = Settings(topic_prefix=f"bench-stages-{uuid.uuid4().hex[:6]}")
    print(f"generating {args.events:,} events ...", flush=True)
    events, petitions, _ = dataset_with_truth(1, args.events, settings)
    runs = []
    print("per record  µs/signature  Avro decode  Avro encode  Avro share  ceiling/s")
    for per_record in args.per_record:
        cost = rules_cost(settings, events, petitions, per_record, args.repeat)
        runs.append(cost)
        print(
            f"{per_record:>10}  {cost['us_per_signature']:>12}  "
            f"{cost['avro_decode_us_per_signature']:>11}  "
            f"{cost['avro_encode_us_per_signature']:>11}  {cost['avro_share']:>10.0%}  "
            f"{cost['ceiling_signatures_per_s']:>9,}",
            flush=True,
        )
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "runs": runs,
    }
    save_report(report, args.output, echo=False)
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
