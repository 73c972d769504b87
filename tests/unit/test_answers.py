"""The one shape of an HTTP error answer (``streams.core.answers``), byte for byte."""

from __future__ import annotations

import json

from streams.core.answers import JsonRefusal, json_error


def test_an_error_is_a_json_object_with_its_message() -> None:
    answer = json_error(400, "the signature has errors", errors={"email": "empty"})
    assert answer.status == 400
    assert answer.content_type == "application/json"
    assert json.loads(answer.text or "") == {
        "error": "the signature has errors",
        "errors": {"email": "empty"},
    }
    assert "Retry-After" not in answer.headers


def test_come_back_later_is_said_in_a_header_in_whole_seconds_and_in_the_body() -> None:
    answer = json_error(503, "Kafka is busy", retry_after=2.25)
    assert answer.headers["Retry-After"] == "3"
    assert json.loads(answer.text or "") == {"error": "Kafka is busy", "retry_after": 2.2}
    assert json_error(429, "slow down", retry_after=0.1).headers["Retry-After"] == "1"


def test_the_raised_form_is_the_same_answer() -> None:
    refusal = JsonRefusal(404, "no petition 'x'")
    returned = json_error(404, "no petition 'x'")
    assert (refusal.status, refusal.content_type) == (404, "application/json")
    assert json.loads(refusal.text or "") == json.loads(returned.text or "")
    assert isinstance(refusal, Exception)
