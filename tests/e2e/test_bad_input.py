"""Hostile and broken input lands in the dead letters with its reason; the worker
stays up and the good events around it are counted."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

from schemas.codec import AvroCodec
from streams.core.settings import Settings
from streams.core.topicspecs import SUBMITTED
from streams.testing.dataset import DemoPetition, Event
from streams.testing.processes import Results, WorkerProcess, prepare, produce
from streams.testing.reference import Truth

NOW = datetime.now(UTC)
PETITION = DemoPetition("bad-input", NOW - timedelta(days=1), None)


def good(codec: AvroCodec, n: int, **changes: object) -> bytes:
    record = {
        "signature_id": f"good-{n}",
        "petition_id": PETITION.petition_id,
        "full_name": "Marta Kowalska",
        "email": f"marta{n}@example.pl",
        "country": "PL",
        "postal_code": None,
        "consent_to_publish_name": True,
        "submitted_at": NOW - timedelta(minutes=1),
        "source": "api",
        "client_ip": None,
        "user_agent": None,
        "locale": "pl-PL",
        "referrer": "https://example.org/campaign",
    } | changes
    return codec.encode(record)


def test_each_kind_of_bad_input_is_dead_lettered_with_its_reason(
    settings: Settings, worker: WorkerProcess, results: Results
) -> None:
    codec = AvroCodec("SignatureSubmitted")
    valid = good(codec, 0)
    key = PETITION.petition_id.encode()
    v1_record = {k: v for k, v in codec.decode(good(codec, 2)).items() if k != "referrer"}
    cases = [
        (b"\xde\xad\xbe\xef garbage", "malformed"),  # garbage bytes
        (valid[:5], "malformed"),  # truncated header
        (b"\xc3\x01" + b"\x99" * 1024 * 1024, "oversized"),  # a 1 MiB payload
        (valid[:2] + b"\x00" * 8 + valid[10:], "malformed"),  # unknown fingerprint
        (good(codec, 1), None),  # the newest schema version (v2, with referrer)
        (codec.encode(v1_record, writer_version=1), None),  # an older form (v1)
        (good(codec, 3, email="not an email"), "invalid_email"),
        (good(codec, 4), None),  # and life goes on
    ]
    prepare(settings, [PETITION])
    worker.start()
    produce(settings, [Event(key, value, "") for value, _ in cases])
    truth = Truth(
        counts=Counter({(PETITION.petition_id, "Europe and Central Asia", "PL"): 3}),
        reasons=Counter(
            (PETITION.petition_id, reason) for _, reason in cases if reason is not None
        ),
    )
    results.wait_for(truth, timeout=120, worker=worker)
    assert results.reasons == truth.reasons
    assert results.counts() == truth.counts
    assert worker.alive()


#: Sends one record whose only header's name is the bytes FF FE: aiokafka's Python
#: record builder encodes a name with ``name.encode("utf-8")``, which a ``str`` subclass
#: can answer with bytes no UTF-8 reader accepts (our own clients cannot write such a
#: record; any other producer can).
UNREADABLE_HEADER_PRODUCER = """
import asyncio, sys
from aiokafka import AIOKafkaProducer

class NoUtf8(str):
    def encode(self, *args, **kwargs):
        return b"\\xff\\xfe"

async def main():
    producer = AIOKafkaProducer(bootstrap_servers=sys.argv[1])
    await producer.start()
    try:
        await producer.send_and_wait(
            sys.argv[2], value=bytes.fromhex(sys.argv[4]), key=sys.argv[3].encode(),
            headers=[(NoUtf8("x"), b"v")],
        )
    finally:
        await producer.stop()

asyncio.run(main())
"""


def test_a_header_name_that_is_no_utf8_stops_nothing_and_its_signature_counts(
    settings: Settings, worker: WorkerProcess, results: Results
) -> None:
    codec = AvroCodec("SignatureSubmitted")
    key = PETITION.petition_id.encode()
    prepare(settings, [PETITION])
    worker.start()
    produce(settings, [Event(key, good(codec, 20), "")])
    subprocess.run(
        [
            sys.executable,
            "-c",
            UNREADABLE_HEADER_PRODUCER,
            settings.kafka_bootstrap_servers,
            settings.topic(SUBMITTED.name),
            key.decode(),
            good(codec, 21).hex(),
        ],
        env={**os.environ, "AIOKAFKA_NO_EXTENSIONS": "1"},  # the Python record builder
        check=True,
        timeout=60,
    )
    produce(settings, [Event(key, good(codec, 22), "")])
    truth = Truth(
        counts=Counter({(PETITION.petition_id, "Europe and Central Asia", "PL"): 3}),
        reasons=Counter(),
    )
    results.wait_for(truth, timeout=120, worker=worker)
    assert results.counts() == truth.counts
    assert worker.alive()
    assert "has a header name that is no UTF-8" in worker.log_path.read_text()
