"""Cross-site protection of the real intake: a browser's post from another site, or a
form post without the token of a form the intake rendered, is refused (403) and
nothing reaches Kafka; the intake's own form, JavaScript and campaign backends work."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from streams.core.settings import Settings
from streams.demo.simulator import default_petitions
from streams.testing.processes import IntakeProcess, prepare
from tests.intake_client import form_token, post_form, post_json, request, submitted

GOOD = {"full_name": "Layla Haddad", "email": "layla@example.org", "country": "SY"}
CAMPAIGN = "https://campaign.example"


@pytest.fixture
def running(settings: Settings, intake: IntakeProcess) -> IntakeProcess:
    prepare(settings, default_petitions(datetime.now(UTC)))
    intake.start(wait_for_petition="syria-icc")
    return intake


def nothing_published(settings: Settings) -> bool:
    return submitted(settings, expect=0, timeout=3) == []


def test_a_form_post_from_the_intakes_own_page_lands_on_the_thanks_page(
    running: IntakeProcess,
) -> None:
    token = form_token(running.url, "syria-icc")
    answer = post_form(running.url, "syria-icc", {**GOOD, "form_token": token}, Origin=running.url)
    assert answer.status == 303
    assert answer.headers["Location"].startswith("/petitions/syria-icc/thanks?signature_id=")


def test_a_form_post_from_another_site_is_refused_with_the_form_again(
    settings: Settings, running: IntakeProcess
) -> None:
    token = form_token(running.url, "syria-icc")
    answer = post_form(
        running.url,
        "syria-icc",
        {**GOOD, "form_token": token},
        Origin="https://evil.example",
    )
    assert answer.status == 403
    assert "sent from another site (https://evil.example)" in answer.body
    assert 'id="sign-form"' in answer.body and 'name="form_token"' in answer.body
    assert nothing_published(settings)


def test_a_referer_from_another_site_is_refused_when_origin_is_absent(
    settings: Settings, running: IntakeProcess
) -> None:
    token = form_token(running.url, "syria-icc")
    answer = post_form(
        running.url,
        "syria-icc",
        {**GOOD, "form_token": token},
        Referer="https://evil.example/petition.html",
    )
    assert answer.status == 403
    assert nothing_published(settings)


def test_a_form_post_without_a_token_is_refused_and_keeps_what_was_typed(
    settings: Settings, running: IntakeProcess
) -> None:
    answer = post_form(running.url, "syria-icc", GOOD)
    assert answer.status == 403
    assert "not sent from the petition&#39;s own page" in answer.body
    assert 'value="Layla Haddad"' in answer.body
    assert nothing_published(settings)


def test_a_tampered_token_is_refused(settings: Settings, running: IntakeProcess) -> None:
    token = form_token(running.url, "syria-icc")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    answer = post_form(running.url, "syria-icc", {**GOOD, "form_token": tampered})
    assert answer.status == 403
    assert "not one of ours" in answer.body
    assert nothing_published(settings)


def test_a_token_of_another_petitions_form_is_refused(
    settings: Settings, running: IntakeProcess
) -> None:
    other = form_token(running.url, "clean-air")
    answer = post_form(running.url, "syria-icc", {**GOOD, "form_token": other})
    assert answer.status == 403
    assert nothing_published(settings)


def test_an_expired_token_is_refused(settings: Settings, intake: IntakeProcess) -> None:
    prepare(settings, default_petitions(datetime.now(UTC)))
    intake.extra_env["COUNTERSIGN_INTAKE_FORM_TOKEN_MAX_AGE_SECONDS"] = "1"
    intake.start(wait_for_petition="syria-icc")
    token = form_token(intake.url, "syria-icc")
    time.sleep(2.5)  # older than 1 s in whole seconds, as the token counts them
    answer = post_form(intake.url, "syria-icc", {**GOOD, "form_token": token})
    assert answer.status == 403
    assert "open too long" in answer.body
    assert nothing_published(settings)


def test_a_form_post_that_asks_for_json_hears_403_in_json(running: IntakeProcess) -> None:
    answer = post_form(running.url, "syria-icc", GOOD, Accept="application/json")
    assert answer.status == 403
    assert "not sent from the petition's own page" in answer.body["error"]


def test_a_backend_posting_json_without_origin_or_referer_is_taken(
    settings: Settings, running: IntakeProcess
) -> None:
    answer = post_json(running.url, "syria-icc", GOOD)
    assert answer.status == 202
    [record] = submitted(settings, expect=1)
    assert record["signature_id"] == answer.body["signature_id"]


def test_the_forms_javascript_posting_json_from_its_own_page_is_taken(
    running: IntakeProcess,
) -> None:
    assert post_json(running.url, "syria-icc", GOOD, Origin=running.url).status == 202


def test_json_from_another_sites_page_is_refused(
    settings: Settings, running: IntakeProcess
) -> None:
    answer = post_json(running.url, "syria-icc", GOOD, Origin="https://evil.example")
    assert answer.status == 403
    assert "another site" in answer.body["error"]
    assert nothing_published(settings)


def preflight(url: str, origin: str) -> dict[str, str]:
    answer = request(
        f"{url}/petitions/syria-icc/signatures",
        method="OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    return answer.headers


def test_no_other_site_may_post_or_frame_by_default(running: IntakeProcess) -> None:
    assert "Access-Control-Allow-Origin" not in preflight(running.url, CAMPAIGN)
    embed = request(f"{running.url}/petitions/syria-icc/sign?embed=1", method="GET")
    assert "frame-ancestors 'none'" in embed.headers["Content-Security-Policy"]


def test_a_configured_campaign_site_may_post_and_frame_the_embedded_form(
    settings: Settings, intake: IntakeProcess
) -> None:
    prepare(settings, default_petitions(datetime.now(UTC)))
    intake.extra_env["COUNTERSIGN_INTAKE_CORS_ORIGINS"] = CAMPAIGN
    intake.start(wait_for_petition="syria-icc")
    assert preflight(intake.url, CAMPAIGN)["Access-Control-Allow-Origin"] == CAMPAIGN
    assert "Access-Control-Allow-Origin" not in preflight(intake.url, "https://evil.example")
    assert post_json(intake.url, "syria-icc", GOOD, Origin=CAMPAIGN).status == 202
    embed = request(f"{intake.url}/petitions/syria-icc/sign?embed=1", method="GET")
    assert embed.headers["Content-Security-Policy"].endswith(f"frame-ancestors {CAMPAIGN}")
    page = request(f"{intake.url}/petitions/syria-icc/sign", method="GET")
    assert page.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")


def test_the_forms_pages_run_no_inline_script_or_style(running: IntakeProcess) -> None:
    page = request(f"{running.url}/petitions/syria-icc/sign", method="GET")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "<script>" not in page.body and "style=" not in page.body
