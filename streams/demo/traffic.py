"""Send simulated campaign traffic, to Kafka directly or through the HTTP intake.

``countersign simulate`` drives these. Over HTTP the simulator behaves like a careful
campaign backend: it waits ``Retry-After`` on 429/503/504 and resends with the same
signature_id, and it records every answer so the ground truth holds exactly the
events that reached Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import aiohttp
from confluent_kafka import Producer

from schemas.codec import AvroCodec
from streams.core import kafka
from streams.core.errors import IntakeUnavailable, KafkaUnavailable
from streams.core.settings import Settings
from streams.core.topicspecs import SUBMITTED
from streams.demo.campaign import GroundTruth, Submission
from streams.publish import Signature
from streams.publish.signature import RESEND_HEADER
from streams.rules.keys import submission_key_for

#: How the truth files a 202 that answered an identical resend from the intake's
#: memory: on Kafka once already, so it adds nothing to count.
REMEMBERED = "202 (a resend, answered from memory)"

log = logging.getLogger(__name__)

#: How often one submission is tried over HTTP before the simulator gives up on it.
MAX_ATTEMPTS = 20
RETRYABLE = frozenset({429, 503, 504})
Tick = Callable[[Submission], None]
T = TypeVar("T")


def paced(items: Iterable[T], rate: float, count: int) -> Iterator[T]:
    """At most ``count`` items (0: all), released at ``rate`` per second (0: now)."""
    started = time.monotonic()
    for sent, item in enumerate(items):
        if count and sent >= count:
            return
        if rate > 0:
            time.sleep(max(0.0, started + sent / rate - time.monotonic()))
        yield item


def produce(producer: Producer, topic: str, key: bytes, value: bytes) -> None:
    """Hand one record to the producer, waiting while its local queue is full."""
    kafka.produce_waiting(producer, topic, value, key)


def signature(submission: Submission, petition_id: str) -> Signature:
    """The sign event a form posting these fields would produce."""
    return Signature(
        petition_id=petition_id,
        **submission.fields,
        source="web-form",
        client_ip=submission.client_ip,
        user_agent="countersign-simulate",
    )


def send_via_kafka(
    settings: Settings,
    submissions: Iterable[Submission],
    truth: GroundTruth,
    tick: Tick,
) -> int:
    """Produce each submission to signatures.submitted (acks=all); returns how many."""
    producer = kafka.producer(settings)
    codec = AvroCodec("SignatureSubmitted")
    topic = settings.topic(SUBMITTED.name)
    sent = 0
    for submission in submissions:
        sign = signature(submission, truth.petition_id)
        key = submission_key_for(sign.petition_id, sign.email)
        produce(producer, topic, key, codec.encode(sign.to_record()))
        truth.taken(submission, "kafka")
        sent += 1
        tick(submission)
    if producer.flush(60) != 0:
        raise KafkaUnavailable("Kafka did not take every simulated event in 60 s")
    return sent


async def _post(
    session: aiohttp.ClientSession, url: str, submission: Submission, truth: GroundTruth
) -> None:
    headers = {"X-Forwarded-For": submission.client_ip, "Accept": "application/json"}
    body = {k: v for k, v in submission.fields.items() if v is not None}
    for _ in range(MAX_ATTEMPTS):
        try:
            async with session.post(url, json=body, headers=headers) as response:
                await response.read()
                status = response.status
                retry_after = float(response.headers.get("Retry-After", "1"))
        except aiohttp.ClientError as exc:
            log.warning("intake unreachable (%s); retrying in 1 s", exc)
            await asyncio.sleep(1)
            continue
        if status == 202 and response.headers.get(RESEND_HEADER) == "remembered":
            truth.refused(REMEMBERED)
            return
        if status == 202:
            truth.taken(submission)
            return
        if status not in RETRYABLE:
            truth.refused(status)
            return
        truth.intake[f"{status} (retried)"] += 1
        await asyncio.sleep(retry_after)
    truth.refused("gave up")


async def wait_for_form(url: str, timeout: float = 60.0) -> None:
    """Wait until the intake serves the petition's form (its catalogue may lag a
    petition the simulator has just added)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
                    problem = f"answers {response.status}"
            except aiohttp.ClientError as exc:
                problem = f"is unreachable ({exc})"
            if time.monotonic() > deadline:
                raise IntakeUnavailable(f"the intake at {url} {problem} after {timeout:g} s")
            await asyncio.sleep(0.5)


async def send_via_http(
    intake_url: str,
    submissions: Iterable[Submission],
    truth: GroundTruth,
    tick: Tick,
    *,
    rate: float = 0.0,
    count: int = 0,
    concurrency: int = 32,
) -> int:
    """POST each submission as JSON to the intake, ``concurrency`` at a time, at most
    ``count`` (0: all) at ``rate`` per second (0: as fast as the intake answers)."""
    base = f"{intake_url.rstrip('/')}/petitions/{truth.petition_id}"
    url = f"{base}/signatures"
    await wait_for_form(f"{base}/sign")
    queue: asyncio.Queue[Submission | None] = asyncio.Queue(maxsize=concurrency * 2)
    sent = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal sent
        while (submission := await queue.get()) is not None:
            await _post(session, url, submission, truth)
            sent += 1
            tick(submission)

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        workers = [asyncio.create_task(worker(session)) for _ in range(concurrency)]
        started = time.monotonic()
        for queued, submission in enumerate(submissions):
            if count and queued >= count:
                break
            if rate > 0:
                await asyncio.sleep(max(0.0, started + queued / rate - time.monotonic()))
            await queue.put(submission)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
    return sent
