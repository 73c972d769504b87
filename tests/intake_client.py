"""A small HTTP client for the intake tests, and a reader of what reached Kafka."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import TopicPartition

from schemas.batch import decode_batch, is_batch
from schemas.codec import codec
from schemas.sealed import open_personal
from streams.core import kafka
from streams.core.settings import Settings
from streams.core.topicspecs import SUBMITTED
from streams.signerkeys.store import SignerKeys


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any  # parsed JSON, or text

    @property
    def retry_after(self) -> str | None:
        return self.headers.get("Retry-After")


def request(
    url: str,
    body: bytes | None = None,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> Answer:
    """An HTTP request that returns the answer whatever its status (no redirects)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *_: Any, **__: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=timeout) as response:
            status, head, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, head, raw = error.code, dict(error.headers), error.read()
    kind = head.get("Content-Type", "")
    return Answer(status, head, json.loads(raw) if "json" in kind and raw else raw.decode())


def post_json(
    base: str,
    petition: str,
    fields: dict[str, Any],
    ip: str = "198.51.100.1",
    timeout: float = 60,
    **headers: str,
) -> Answer:
    return request(
        f"{base}/petitions/{petition}/signatures",
        json.dumps(fields).encode(),
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Forwarded-For": ip,
            **headers,
        },
        timeout=timeout,
    )


def form_token(base: str, petition: str) -> str:
    """The token of a freshly rendered sign form (what a browser posts back)."""
    page = request(f"{base}/petitions/{petition}/sign", method="GET")
    found = re.search(r'name="form_token" value="([^"]+)"', page.body)
    assert found, f"no form token in the form ({page.status})"
    return found[1]


def post_form(
    base: str,
    petition: str,
    fields: dict[str, str],
    ip: str = "198.51.100.2",
    **headers: str,
) -> Answer:
    """POST form-encoded ``fields`` as a browser without JavaScript does (HTML first);
    the caller adds the form's token (``form_token``) or leaves it out."""
    return request(
        f"{base}/petitions/{petition}/signatures",
        urllib.parse.urlencode(fields).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "text/html,application/xhtml+xml",
            "X-Forwarded-For": ip,
            **headers,
        },
    )


def read_topic(
    settings: Settings,
    topic_name: str,
    record_name: str,
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 30,
) -> list[dict[str, Any]]:
    """Every record of a topic from its start: read until ``until(records)`` holds and
    nothing more arrives for 1.5 s (so anything extra shows up), or ``timeout``."""
    consumer = kafka.consumer(settings, group_id=f"{settings.topic_prefix}read-{topic_name}")
    topic = settings.topic(topic_name)
    partitions = (
        kafka.admin_client(settings).list_topics(topic, timeout=10).topics[topic].partitions
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    decode = codec(record_name).decode
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    idle = 0
    try:
        while time.monotonic() < deadline:
            batch = consumer.consume(1000, timeout=0.5)
            for message in batch:
                if message.error():
                    continue
                value = message.value()
                if is_batch(value):  # several submissions in one record: each counts
                    records += [decode(item) for _, item in decode_batch(value)]
                else:
                    records.append(decode(value))
            idle = 0 if batch else idle + 1
            if idle >= 3 and until(records):
                break
    finally:
        consumer.close()
    return records


def submitted(settings: Settings, expect: int = 0, timeout: float = 30) -> list[dict[str, Any]]:
    """Every record on signatures.submitted (waits until there are ``expect``), with a
    sealed record's personal data opened (docs/privacy.md): what the signer sent,
    whether or not the intake sealed it. ``was_sealed`` says which."""
    records = read_topic(
        settings, SUBMITTED.name, "SignatureSubmitted", lambda r: len(r) >= expect, timeout
    )
    if not any(record.get("sealed") for record in records):
        return [{**record, "was_sealed": False} for record in records]
    keys = SignerKeys(settings)
    keys.start()
    try:
        return [opened(keys, record) for record in records]
    finally:
        keys.stop()


def opened(keys: SignerKeys, record: dict[str, Any]) -> dict[str, Any]:
    """The record with its sealed personal fields back in clear."""
    sealed = record.get("sealed")
    if not sealed:
        return {**record, "was_sealed": False}
    data_key = keys.data_key(record["petition_id"], sealed["key_id"])
    personal = open_personal(
        data_key, sealed["personal"], record["petition_id"], record["signature_id"]
    )
    return {**record, **personal, "was_sealed": True}
