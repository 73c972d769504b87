"""Headless Chromium (Debian's) signs a petition through the intake's form, with and
without JavaScript, and the worker's count rises by exactly one."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from streams.catalogue.store import publish_petition
from streams.core.settings import Settings
from streams.demo.campaign import seed_petition
from streams.demo.simulator import default_petitions
from streams.testing.processes import IntakeProcess, WorkerProcess, prepare
from tests.intake_client import request

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def chrome(javascript: bool) -> webdriver.Chrome:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("Debian's chromium and chromium-driver are not installed (make browser)")
    os.environ["SE_AVOID_STATS"] = "true"  # selenium sends no usage statistics anywhere
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--window-size=900,1100"):  # fmt: skip
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture
def site(
    settings: Settings, worker: WorkerProcess, intake: IntakeProcess
) -> Iterator[tuple[WorkerProcess, IntakeProcess]]:
    now = datetime.now(UTC)
    prepare(settings, default_petitions(now))
    publish_petition(settings, seed_petition(now, confirmation="none"))  # the real title
    worker.start()
    intake.start(wait_for_petition="syria-icc")
    yield worker, intake


def total(worker: WorkerProcess, petition: str = "syria-icc") -> int | None:
    try:
        answer = request(
            f"http://127.0.0.1:{worker.web_port}/api/petitions/{petition}/counts", method="GET"
        )
    except OSError:  # the worker is still starting
        return None
    return answer.body["total"] if answer.status == 200 else None


def wait_for_total(worker: WorkerProcess, expected: int, timeout: float = 120) -> int | None:
    deadline = time.monotonic() + timeout
    shown = total(worker)
    while shown != expected and time.monotonic() < deadline:
        time.sleep(1)
        shown = total(worker)
    return shown


def fill(browser: webdriver.Chrome, name: str, email: str, country: str) -> None:
    browser.find_element(By.ID, "full_name").send_keys(name)
    browser.find_element(By.ID, "email").send_keys(email)
    Select(browser.find_element(By.ID, "country")).select_by_value(country)
    browser.find_element(By.ID, "consent_to_publish_name").click()
    browser.find_element(By.ID, "sign-button").click()


@pytest.mark.parametrize("javascript", [False, True], ids=["no-js", "js"])
def test_signing_through_the_form_raises_the_count_by_one(
    site: tuple[WorkerProcess, IntakeProcess], javascript: bool, tmp_path: Path
) -> None:
    worker, intake = site
    assert wait_for_total(worker, 0) == 0
    browser = chrome(javascript)
    try:
        browser.get(f"{intake.url}/petitions/syria-icc/sign")
        assert "Syria" in browser.find_element(By.TAG_NAME, "h1").text
        fill(browser, "ليلى حداد", "Layla.Haddad+petition@Example.org", "SY")
        thanks = WebDriverWait(browser, 30).until(
            expected_conditions.visibility_of_element_located((By.ID, "thanks"))
        )
        thanked = thanks.text
        reference = browser.find_element(By.ID, "thanks-signature-id").text
        if javascript:  # no page load: the form is replaced in place
            assert browser.current_url.endswith("/petitions/syria-icc/sign")
        else:
            assert "/petitions/syria-icc/thanks?signature_id=" in browser.current_url
        browser.save_screenshot(str(tmp_path / "thanks.png"))
    finally:
        browser.quit()
    assert "Thank you" in thanked and len(reference) == 36
    assert wait_for_total(worker, 1) == 1


def test_a_typo_shows_the_error_next_to_the_field_and_counts_nothing(
    site: tuple[WorkerProcess, IntakeProcess], tmp_path: Path
) -> None:
    worker, intake = site
    browser = chrome(javascript=False)
    try:
        browser.get(f"{intake.url}/petitions/syria-icc/sign")
        fill(browser, "Ana Silva", "ana.silva.example.org", "BR")
        browser.set_window_size(900, 1250)
        error = browser.find_element(By.ID, "email-error")
        assert error.is_displayed() and "@" in error.text
        email = browser.find_element(By.ID, "email")
        assert email.get_attribute("aria-invalid") == "true"
        assert email.get_attribute("aria-describedby") == "email-hint email-error"
        assert email.get_attribute("value") == "ana.silva.example.org"  # kept for fixing
        assert browser.find_element(By.ID, "full_name").get_attribute("value") == "Ana Silva"
        shots = os.environ.get("COUNTERSIGN_SCREENSHOT_DIR")
        if shots:
            browser.save_screenshot(str(Path(shots) / "sign-form.png"))
    finally:
        browser.quit()
    time.sleep(3)
    assert total(worker) == 0
