"""Hypothesis throws arbitrary bodies at a running intake: random fields and values,
JSON and forms in several charsets, any size, any Unicode. The only answers are
202, 400, 413 and 429 — never a 500 — and the service stays up."""

from __future__ import annotations

import itertools
import json
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
from streams.testing.processes import IntakeProcess, prepare
from tests.intake_client import request

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


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["json", "json-raw", "form", "form-raw", "multipart", "huge"]))
    if kind == "json":
        value = draw(plausible | objects | json_values)
        ascii_only = draw(st.booleans())
        return "application/json", json.dumps(value, ensure_ascii=ascii_only).encode(
            "utf-8", "surrogatepass"
        )
    if kind == "json-raw":
        return "application/json" + draw(charsets), draw(st.binary(max_size=300))
    if kind == "form":
        fields = draw(plausible | st.dictionaries(field_names, st.text(max_size=50), max_size=10))
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
    intake.start(wait_for_petition="syria-icc")
    return intake


def test_any_body_gets_202_400_413_or_429_and_the_intake_stays_up(
    running: IntakeProcess,
) -> None:
    seen: Counter[int] = Counter()
    clients = itertools.count(1)

    @hypothesis_settings(max_examples=400, deadline=None, database=None)
    @given(body=bodies(), same_client=st.booleans())
    def post(body: tuple[str, bytes], same_client: bool) -> None:
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
            },
        )
        seen[answer.status] += 1
        assert answer.status in (202, 400, 413, 429), (answer.status, answer.body)
        if answer.status == 400:
            assert isinstance(answer.body, dict) and answer.body["errors"]

    post()
    assert {202, 400, 413} <= set(seen), seen  # the fuzzing reached every branch
    assert running.alive()
    health: dict[str, Any] = request(f"{running.url}/healthz", method="GET").body
    assert health["kafka"] == "up"
    metrics = request(f"{running.url}/metrics", method="GET").body
    assert 'status="500"' not in metrics
