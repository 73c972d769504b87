"""Faust's own cost per record on this machine: what any one-record-per-signature
design can reach at best, measured with an app that has no logic at all.

    .venv/bin/python -m bench.faust_floor [--events 20000]

Runs over the same prepared records (300-byte values, ``petition/bucket`` keys):
consume only; consume and send each record on; consume, send and write one table
entry per record (a changelog record each). Countersign's fused validate stage does
the third plus its rules, so its rate can only be below the third number. Two more
runs price the ways out: sending straight to Faust's producer instead of through
``Topic.send``, and 16 sends per consumed record (a record that carries several
signatures pays the consumer's cost once for all of them).
Results go to bench/results/faust_floor.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime

from confluent_kafka.admin import NewTopic

from bench.machine import RESULTS_DIR, describe, save_report
from streams.core import kafka
from streams.core.settings import Settings
from streams.core.topics import wait_until_visible

MODES = ("consume", "send", "send+table", "producer-send", "16-per-record")
ITEMS_PER_RECORD = 16


def prepare(settings: Settings, prefix: str, events: int) -> None:
    admin = kafka.admin_client(settings)
    names = [f"{prefix}source", f"{prefix}target"]
    topics = [NewTopic(name, settings.topic_partitions, 1) for name in names]
    for future in admin.create_topics(topics).values():
        future.result()
    wait_until_visible(admin, names)
    producer = kafka.producer(settings)
    for i in range(events):
        while True:
            try:
                producer.produce(names[0], b"x" * 300, f"petition/{i % 256:03d}".encode())
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(60) == 0


def run(settings: Settings, prefix: str, mode: str, events: int, port: int) -> int:
    env = {
        **os.environ,
        "FLOOR_EVENTS": str(events),
        "FLOOR_MODE": mode,
        "FLOOR_PREFIX": prefix,
        "FLOOR_BOOTSTRAP": settings.kafka_bootstrap_servers,
        "FLOOR_PARTITIONS": str(settings.topic_partitions),
        "FLOOR_ITEMS_PER_RECORD": str(ITEMS_PER_RECORD),
    }
    command = [sys.executable, "-m", "faust", "-A", "bench.faust_floor_app", "worker"]
    command += ["-l", "warn", "--web-host", "127.0.0.1", "--web-port", str(port)]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    # Faust's worker sends print() through its logging (to stderr, with a prefix).
    found = re.findall(r'\{"mode": .*?\}', done.stdout + done.stderr)
    if not found:
        raise RuntimeError(f"the {mode} run printed no result:\n{done.stderr[-2000:]}")
    rate: int = json.loads(found[-1])["events_per_s"]
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    settings = Settings()
    prefix = f"floor{uuid.uuid4().hex[:6]}."
    prepare(settings, prefix, args.events)
    rates = {}
    for index, mode in enumerate(MODES):
        print(f"{mode} ...", flush=True)
        rates[mode] = run(settings, prefix, mode, args.events, 6190 + index)
    costs = {
        "consume_us": round(1e6 / rates["consume"]),
        "send_us": round(1e6 / rates["send"] - 1e6 / rates["consume"]),
        "table_set_us": round(1e6 / rates["send+table"] - 1e6 / rates["send"]),
        "producer_send_us": round(1e6 / rates["producer-send"] - 1e6 / rates["consume"]),
        "per_item_at_16_per_record_us": round(1e6 / (ITEMS_PER_RECORD * rates["16-per-record"])),
    }
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "events": args.events,
        "records_per_s": rates,
        "cost_per_record": costs,
    }
    save_report(report, RESULTS_DIR / "faust_floor.json")


if __name__ == "__main__":
    main()
