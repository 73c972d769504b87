"""With the public logs on, the intake hands every signer the first half of their
receipt (docs/transparency.md): in the JSON 202, and on the thank-you page as a file
to keep and a link to /receipt that carries it in the fragment."""

from __future__ import annotations

import base64
import hmac
import json
import re
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import pytest

from streams.core.settings import Settings
from streams.demo.simulator import default_petitions
from streams.testing.cleanup import delete_run_topics
from streams.testing.processes import IntakeProcess, prepare
from tests.conftest import isolated_settings
from tests.intake_client import post_json, request, submitted
from tests.integration.test_intake import GOOD, form_post

SALT_KEY = "receipts-test-salt-key"
RECEIPT_PAGE = "https://counts.example.org/receipt"


@pytest.fixture
def settings(kafka: str, test_id: str, tmp_path: Path) -> Iterator[Settings]:
    logged = isolated_settings(kafka, test_id, tmp_path).model_copy(
        update={
            "transparency_log": True,
            "transparency_salt_key": SALT_KEY,
            "transparency_receipt_url": RECEIPT_PAGE,
        }
    )
    yield logged
    delete_run_topics(logged)


@pytest.fixture
def running(settings: Settings, intake: IntakeProcess) -> IntakeProcess:
    prepare(settings, default_petitions(datetime.now(UTC)))
    intake.start(wait_for_petition="syria-icc")
    return intake


def expected_receipt(signature_id: str) -> dict[str, object]:
    """The claim as docs/transparency.md defines it, computed here apart from the
    code: the salt is the first 16 bytes of HMAC-SHA256(key, tag + signature id)."""
    mac = hmac.new(SALT_KEY.encode(), b"countersign/salt/v1\n" + signature_id.encode(), "sha256")
    return {
        "receipt": 1,
        "petition_id": "syria-icc",
        "signature_id": signature_id,
        "country": "SY",
        "salt": base64.b64encode(mac.digest()[:16]).decode(),
    }


def href(page: str, element_id: str) -> str:
    found = re.search(rf'<a id="{element_id}" href="([^"]+)"', page)
    assert found, f"no link #{element_id} in the page"
    return unescape(found.group(1))


def test_the_202_carries_the_receipt(settings: Settings, running: IntakeProcess) -> None:
    answer = post_json(running.url, "syria-icc", GOOD)
    assert answer.status == 202
    assert answer.body["receipt"] == expected_receipt(answer.body["signature_id"])


def test_the_thanks_page_without_javascript_links_to_the_receipt(
    settings: Settings, running: IntakeProcess
) -> None:
    answer = form_post(running.url, "syria-icc", {**GOOD, "consent_to_publish_name": "on"})
    assert answer.status == 303
    [record] = submitted(settings, expect=1)
    receipt = expected_receipt(record["signature_id"])
    page = request(running.url + answer.headers["Location"], method="GET").body
    assert 'id="thanks-receipt"' in page

    check = urllib.parse.urlsplit(href(page, "receipt-check"))
    assert check._replace(fragment="").geturl() == RECEIPT_PAGE
    carried = urllib.parse.parse_qs(check.fragment)["receipt"]
    assert [json.loads(text) for text in carried] == [receipt]

    kept = request(running.url + href(page, "receipt-download"), method="GET")
    assert kept.status == 200
    assert kept.headers["Content-Disposition"] == 'attachment; filename="receipt-syria-icc.json"'
    assert kept.body == receipt


def test_a_thanks_page_that_names_no_country_shows_no_receipt(running: IntakeProcess) -> None:
    page = request(
        f"{running.url}/petitions/syria-icc/thanks?signature_id=abc-123", method="GET"
    ).body
    assert "abc-123" in page and 'id="thanks-receipt"' not in page


def test_a_receipt_file_asked_with_no_country_is_400(running: IntakeProcess) -> None:
    asked = request(
        f"{running.url}/petitions/syria-icc/receipt?signature_id=abc-123&country=ZZ", method="GET"
    )
    assert asked.status == 400 and "country" in asked.body["error"]


def test_the_sign_form_tells_its_script_where_receipts_are_checked(running: IntakeProcess) -> None:
    form = request(f"{running.url}/petitions/syria-icc/sign", method="GET").body
    assert f'data-receipt-page="{RECEIPT_PAGE}"' in form
