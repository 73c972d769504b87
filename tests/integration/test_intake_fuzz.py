"""Hypothesis throws arbitrary bodies at a running intake: random fields and values,
JSON and forms in several charsets, any size, any Unicode, JSON nested thousands deep,
forms with and without their token, from any claimed site, and bodies that stall or
trickle. The only answers are 202, 400, 403, 408, 413 and 429 — never a 500 — and
the service stays up."""

from __future__ import annotations

import itertools
import json
import socket
import urllib.parse
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from streams.core.settings import Settings
from streams.demo.simulator import default_petitions
from streams.testing.processes import IntakeProcess, ops_headers, prepare
from tests.intake_client import form_token, request

pytestmark = pytest.mark.slow

FIELD_NAMES = [
    "full_name", "email", "country", "postal_code", "consent_to_publish_name",
    "signature_id", "locale", "referrer", "website", "petition_id", "submitted_at",
]  # fmt: skip
SAMPLES = ["Layla Haddad", "ليلى", "layla@example.org", "a@bücher.example", "sy", "XK", "on"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.sampled_from(SAMPLES),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=5,
)
field_names = st.sampled_from(FIELD_NAMES) | st.text(max_size=20)
objects = st.dictionaries(field_names, json_values, max_size=12)
# Mostly-valid submissions too, so 202s (and the rate limiter) are exercised.
plausible = st.fixed_dictionaries(
    {
        "full_name": st.text(min_size=1, max_size=60) | st.sampled_from(SAMPLES[:2]),
        "email": st.emails() | st.sampled_from(SAMPLES[2:4]),
        "country": st.sampled_from(["sy", "FR", "br", "XK", "UK"]),
    },
    optional={"consent_to_publish_name": json_values, "postal_code": st.text(max_size=25)},
)
charsets = st.sampled_from(["", "; charset=utf-8", "; charset=latin-1", "; charset=utf-16",
                            "; charset=no-such-charset"])  # fmt: skip


#: Filled in with a live token of the running intake's form before the fuzzing starts.
TOKEN = {"form_token": ""}
#: The intake's body timeout in these tests (the default is 10 s).
BODY_TIMEOUT = 0.5


def deep_json(draw: st.DrawFn) -> bytes:
    """JSON nested up to the body limit: unclosed, closed, or inside a field."""
    depth = draw(st.integers(min_value=1, max_value=16_000))
    shape = draw(st.sampled_from(["open", "closed", "in-field", "objects"]))
    if shape == "open":
        return b"[" * depth
    if shape == "closed":
        return b"[" * depth + b"]" * depth
    if shape == "in-field":
        depth = min(depth, 8_000)
        return b'{"full_name": ' + b"[" * depth + b"]" * depth + b"}"
    depth = min(depth, 3_000)
    return b'{"a":' * depth + b"1" + b"}" * depth


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str, bytes]:  # noqa: PLR0911
    kinds = ["json", "json-raw", "form", "form-raw", "multipart", "huge", "deep"]
    kind = draw(st.sampled_from(kinds))
    if kind == "json":
        value = draw(plausible | objects | json_values)
        ascii_only = draw(st.booleans())
        return "application/json", json.dumps(value, ensure_ascii=ascii_only).encode(
            "utf-8", "surrogatepass"
        )
    if kind == "json-raw":
        return "application/json" + draw(charsets), draw(st.binary(max_size=300))
    if kind == "deep":
        return "application/json", deep_json(draw)
    if kind == "form":
        fields = draw(plausible | st.dictionaries(field_names, st.text(max_size=50), max_size=10))
        # Mostly with the form's token (202s), sometimes without or with garbage (403s).
        fields |= draw(st.sampled_from([TOKEN, TOKEN, {}, {"form_token": "x.y.z"}]))
        encoded = urllib.parse.urlencode(
            {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
        ).encode()
        return "application/x-www-form-urlencoded" + draw(charsets), encoded
    if kind == "form-raw":
        return "application/x-www-form-urlencoded" + draw(charsets), draw(st.binary(max_size=300))
    if kind == "multipart":
        boundary = draw(st.sampled_from(["", "; boundary=xyz"]))
        return "multipart/form-data" + boundary, draw(st.binary(max_size=300))
    size = draw(st.integers(min_value=15_000, max_value=40_000))
    return "application/json", json.dumps({"full_name": "x" * size}).encode()


@pytest.fixture
def running(settings: Settings, intake: IntakeProcess) -> IntakeProcess:
    prepare(settings, default_petitions(datetime.now(UTC)))
    intake.extra_env["COUNTERSIGN_INTAKE_BODY_TIMEOUT_SECONDS"] = str(BODY_TIMEOUT)
    intake.start(wait_for_petition="syria-icc")
    TOKEN["form_token"] = form_token(intake.url, "syria-icc")
    return intake


def assert_alive_and_never_500(intake: IntakeProcess) -> None:
    assert intake.alive()
    health: dict[str, Any] = request(f"{intake.url}/healthz", method="GET").body
    assert health["kafka"] == "up"
    metrics = request(
        f"{intake.url}/metrics", method="GET", headers=ops_headers(intake.settings)
    ).body
    assert 'status="500"' not in metrics


def test_any_body_gets_202_400_403_413_or_429_and_the_intake_stays_up(
    running: IntakeProcess,
) -> None:
    seen: Counter[int] = Counter()
    clients = itertools.count(1)
    sites = st.sampled_from([None, running.url, "https://evil.example", "null", "::garbage"])

    @hypothesis_settings(max_examples=400, deadline=None, database=None)
    @given(body=bodies(), same_client=st.booleans(), origin=sites)
    def post(body: tuple[str, bytes], same_client: bool, origin: str | None) -> None:
        # One client signing again and again (429s), or a new one each time (202s).
        n = next(clients)
        ip = "203.0.113.1" if same_client else f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        content_type, payload = body
        answer = request(
            f"{running.url}/petitions/syria-icc/signatures",
            payload,
            headers={
                "Content-Type": content_type,
                "Accept": "application/json",
                "X-Forwarded-For": ip,
                **({"Origin": origin} if origin is not None else {}),
            },
        )
        seen[answer.status] += 1
        assert answer.status in (202, 400, 403, 413, 429), (answer.status, answer.body)
        if answer.status == 400:
            assert isinstance(answer.body, dict) and answer.body["errors"]

    post()
    assert {202, 400, 403, 413} <= set(seen), seen  # the fuzzing reached every branch
    assert_alive_and_never_500(running)


def slow_post(port: int, content_type: str, body: bytes, extra: int, at_once: int) -> bytes:
    """POST ``body`` declaring ``extra`` bytes more than it has, sending ``at_once``
    of them at once and the rest a byte every 0.2 s; what the intake answered."""
    head = (
        "POST /petitions/syria-icc/signatures HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body) + extra}\r\n"
        "X-Forwarded-For: 203.0.113.2\r\n\r\n"
    ).encode()
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(head + body[:at_once])
        connection.settimeout(0.2)
        for byte in body[at_once:]:
            try:
                connection.sendall(bytes([byte]))
                answer += connection.recv(65536)
                break  # the intake answered (or closed) before the body was complete
            except TimeoutError:
                continue
            except OSError:
                break
        connection.settimeout(BODY_TIMEOUT + 3)
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except OSError:
            pass
    return answer


def test_stalled_and_trickled_bodies_get_an_answer_never_500(running: IntakeProcess) -> None:
    seen: Counter[int] = Counter()

    @hypothesis_settings(max_examples=25, deadline=None, database=None)
    @given(
        body=bodies().filter(lambda b: len(b[1]) < 2_000),
        extra=st.sampled_from([0, 0, 1, 100]),
        at_once=st.integers(min_value=0, max_value=2_000),
    )
    def post(body: tuple[str, bytes], extra: int, at_once: int) -> None:
        content_type, payload = body
        answer = slow_post(running.port, content_type, payload, extra, at_once)
        status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None
        assert status in (202, 400, 403, 408, 413, 429), answer[:200]
        seen[status] += 1

    post()
    assert 408 in seen, seen
    assert_alive_and_never_500(running)
