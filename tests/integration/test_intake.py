"""The HTTP intake against the real broker: what each answer means."""

from __future__ import annotations

import json
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from streams.core.settings import Settings
from streams.core.topicspecs import SUBMITTED
from streams.demo.simulator import default_petitions
from streams.testing.processes import IntakeProcess, prepare
from tests.intake_client import (
    Answer,
    form_token,
    post_form,
    post_json,
    read_topic,
    request,
    submitted,
)

GOOD = {"full_name": "Layla Haddad", "email": "layla@example.org", "country": "sy"}


@pytest.fixture
def running(settings: Settings, intake: IntakeProcess) -> IntakeProcess:
    prepare(settings, default_petitions(datetime.now(UTC)))
    intake.start(wait_for_petition="syria-icc")
    return intake


def form_post(base: str, petition: str, fields: dict[str, str], ip: str = "198.51.100.2") -> Answer:
    """The form as a browser posts it from the intake's own page: with its token."""
    return post_form(base, petition, {**fields, "form_token": form_token(base, petition)}, ip)


def test_a_202_means_the_event_is_on_signatures_submitted(
    settings: Settings, running: IntakeProcess
) -> None:
    before = datetime.now(UTC)
    answer = post_json(running.url, "syria-icc", {**GOOD, "postal_code": "1010"}, ip="203.0.113.5")
    assert answer.status == 202
    [record] = submitted(settings, expect=1)
    assert record["signature_id"] == answer.body["signature_id"]
    assert (record["full_name"], record["email"], record["country"]) == (
        "Layla Haddad",
        "layla@example.org",
        "sy",
    )
    assert (record["petition_id"], record["source"], record["client_ip"]) == (
        "syria-icc",
        "api",
        "203.0.113.5",
    )
    assert record["postal_code"] == "1010"
    assert before - timedelta(seconds=1) <= record["submitted_at"] <= datetime.now(UTC)


def test_the_intake_seals_personal_data_by_default(
    settings: Settings, running: IntakeProcess
) -> None:
    assert post_json(running.url, "syria-icc", GOOD, ip="203.0.113.6").status == 202
    [record] = read_topic(settings, SUBMITTED.name, "SignatureSubmitted", lambda r: len(r) >= 1)
    assert (record["full_name"], record["email"], record["client_ip"]) == (None, None, None)
    assert record["sealed"]["email_domain"] == "example.org"  # the facts stay in clear


def test_with_sealing_off_the_intake_publishes_personal_data_in_clear(
    settings: Settings, intake: IntakeProcess
) -> None:
    prepare(settings, default_petitions(datetime.now(UTC)))
    intake.extra_env["COUNTERSIGN_SEAL_PERSONAL_DATA"] = "false"
    intake.start(wait_for_petition="syria-icc")
    assert post_json(intake.url, "syria-icc", GOOD, ip="203.0.113.7").status == 202
    [record] = read_topic(settings, SUBMITTED.name, "SignatureSubmitted", lambda r: len(r) >= 1)
    assert (record["full_name"], record["email"], record["sealed"]) == (
        "Layla Haddad",
        "layla@example.org",
        None,
    )


def test_a_form_post_without_javascript_lands_on_the_thanks_page(
    settings: Settings, running: IntakeProcess
) -> None:
    answer = form_post(running.url, "syria-icc", {**GOOD, "consent_to_publish_name": "on"})
    assert answer.status == 303
    location = answer.headers["Location"]
    assert location.startswith("/petitions/syria-icc/thanks?signature_id=")
    [record] = submitted(settings, expect=1)
    assert location.endswith(record["signature_id"])
    assert (record["source"], record["consent_to_publish_name"]) == ("web-form", True)
    thanks = request(running.url + location, method="GET")
    assert thanks.status == 200 and record["signature_id"] in thanks.body


def test_bad_fields_are_400_with_a_message_per_field_and_nothing_is_published(
    settings: Settings, running: IntakeProcess
) -> None:
    answer = post_json(running.url, "syria-icc", {"full_name": "", "email": "x", "country": "UK"})
    assert answer.status == 400
    assert set(answer.body["errors"]) == {"full_name", "email", "country"}
    page = form_post(running.url, "syria-icc", {**GOOD, "email": "layla.example.org"})
    assert page.status == 400
    assert 'id="email-error"' in page.body and "exactly one @" in page.body
    assert 'value="Layla Haddad"' in page.body  # what was typed is kept
    assert submitted(settings, expect=0, timeout=3) == []


def test_a_body_over_16_kib_is_413(running: IntakeProcess) -> None:
    answer = post_json(running.url, "syria-icc", {**GOOD, "full_name": "x" * 17_000})
    assert answer.status == 413
    assert "16384" in answer.body["error"]


def test_json_nested_thousands_deep_is_400_not_500(running: IntakeProcess) -> None:
    answer = request(
        f"{running.url}/petitions/syria-icc/signatures",
        b"[" * 16_000,
        headers={"Content-Type": "application/json"},
    )
    assert (answer.status, answer.body["errors"]) == (400, {"body": "JSON nested too deeply"})


def test_a_body_that_is_neither_json_nor_a_form_is_415(running: IntakeProcess) -> None:
    answer = request(
        f"{running.url}/petitions/syria-icc/signatures",
        b"<signature/>",
        headers={"Content-Type": "application/xml"},
    )
    assert answer.status == 415


def test_a_second_signature_from_one_address_is_429_with_retry_after(
    running: IntakeProcess,
) -> None:
    assert post_json(running.url, "syria-icc", GOOD, ip="203.0.113.7").status == 202
    again = post_json(
        running.url, "syria-icc", {**GOOD, "email": "b@example.org"}, ip="203.0.113.7"
    )
    assert again.status == 429
    assert again.retry_after is not None and 55 <= int(again.retry_after) <= 60
    other = post_json(
        running.url, "syria-icc", {**GOOD, "email": "c@example.org"}, ip="203.0.113.8"
    )
    assert other.status == 202


def test_a_resent_submission_is_answered_again_not_rate_limited_and_published_once(
    settings: Settings, running: IntakeProcess
) -> None:
    fields = {**GOOD, "signature_id": "resent-0001"}
    first = post_json(running.url, "syria-icc", fields, ip="203.0.113.9")
    again = post_json(running.url, "syria-icc", fields, ip="203.0.113.9")
    expected = (202, {"signature_id": "resent-0001"})
    assert (first.status, first.body) == expected
    assert (again.status, again.body) == expected
    ids = [r["signature_id"] for r in submitted(settings, expect=1)]
    assert ids == ["resent-0001"]


def test_x_forwarded_for_is_ignored_from_an_untrusted_peer(
    settings: Settings, intake: IntakeProcess
) -> None:
    prepare(settings, default_petitions(datetime.now(UTC)))
    intake.extra_env = {}  # no trusted proxies: the TCP peer is the client
    intake.start(wait_for_petition="syria-icc")
    assert post_json(intake.url, "syria-icc", GOOD, ip="203.0.113.10").status == 202
    spoofed = post_json(intake.url, "syria-icc", {**GOOD, "email": "z@example.org"}, ip="1.2.3.4")
    assert spoofed.status == 429
    [record] = submitted(settings, expect=1)
    assert record["client_ip"] == "127.0.0.1"


def test_unknown_and_closed_petitions_are_refused_kindly(running: IntakeProcess) -> None:
    assert post_json(running.url, "no-such-petition", GOOD).status == 404
    assert post_json(running.url, "past-vote", GOOD).status == 410
    unknown = request(f"{running.url}/petitions/no-such-petition/sign", method="GET")
    closed = request(f"{running.url}/petitions/past-vote/sign", method="GET")
    assert (unknown.status, closed.status) == (404, 410)
    assert "There is no petition called" in unknown.body
    assert "has closed" in closed.body and "Traceback" not in closed.body


def test_the_form_is_labelled_and_no_site_may_frame_it_by_default(
    running: IntakeProcess,
) -> None:
    page = request(f"{running.url}/petitions/syria-icc/sign", method="GET")
    assert page.status == 200
    for field in ("full_name", "email", "country", "postal_code", "consent_to_publish_name"):
        assert f'<label for="{field}"' in page.body
    assert page.body.count(" required") >= 3
    assert page.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")
    embed = request(f"{running.url}/petitions/syria-icc/sign?embed=1", method="GET")
    assert embed.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")
    assert "?embed=1" in embed.body and "<footer>" not in embed.body


def test_sigterm_finishes_requests_in_flight_and_every_202_is_in_kafka(
    settings: Settings, running: IntakeProcess
) -> None:
    def sign(n: int) -> Answer | None:
        fields = {**GOOD, "email": f"p{n}@example.org"}
        try:
            return post_json(running.url, "syria-icc", fields, ip=f"10.9.{n // 256}.{n % 256}")
        except OSError:  # refused once the intake stopped listening
            return None

    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(sign, n) for n in range(5000)]
        time.sleep(0.5)
        assert running.stop() == 0
        answers = [f.result() for f in futures]
    accepted = {a.body["signature_id"] for a in answers if a is not None and a.status == 202}
    assert accepted, "no request was answered before the shutdown"
    assert None in answers, "the intake stopped after the traffic, not during it"
    # Besides a 202, an answer may only be a refusal to retry (a loaded machine can
    # make Kafka slow to confirm): never an error, never a 202 that Kafka lacks.
    others = [a for a in answers if a is not None and a.status != 202]
    assert all(a.status in (503, 504) and "Retry-After" in a.headers for a in others), [
        (a.status, a.body) for a in others[:5]
    ]
    maybe_taken = {a.body["signature_id"] for a in others if a.status == 504}
    on_kafka = {r["signature_id"] for r in submitted(settings, expect=len(accepted))}
    assert accepted <= on_kafka
    assert on_kafka - accepted <= maybe_taken


def test_a_body_still_arriving_at_sigterm_is_answered_503_at_once_not_408_later(
    settings: Settings, intake: IntakeProcess
) -> None:
    # A stopping aiohttp connection drops the bytes still to come: without an answer
    # of its own, the request would wait out the (here long) body timeout for nothing.
    intake.extra_env["COUNTERSIGN_INTAKE_BODY_TIMEOUT_SECONDS"] = "60"
    prepare(settings, default_petitions(datetime.now(UTC)))
    intake.start(wait_for_petition="syria-icc")
    body = json.dumps(GOOD).encode()
    head = (
        "POST /petitions/syria-icc/signatures HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", intake.port), timeout=45) as connection:
        connection.sendall(head + body[:10])
        time.sleep(1)  # the head is parsed; the handler waits for the rest of the body
        asked = time.monotonic()
        intake.process.send_signal(signal.SIGTERM)
        answer = b""
        while chunk := connection.recv(4096):
            answer += chunk
        waited = time.monotonic() - asked
    assert answer.startswith(b"HTTP/1.1 503 "), answer[:200]
    assert b"\r\nRetry-After: " in answer
    assert b"send it again" in answer
    assert waited < 10, f"answered after {waited:.1f} s"
    assert intake.stop() == 0
