"""Ops in headless Chromium: the moderation page shows where an attack came from,
takes it out of the count with who and why, and puts it back with one click; the
public count follows exactly."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from streams.catalogue.store import new_petition, publish_petition
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.testing.processes import WorkerProcess, produce
from tests.browser.test_sign_form import chrome
from tests.e2e.test_moderation import PETITION, signature
from tests.intake_client import request

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PEOPLE, BOTS = 30, 120
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def attacked(settings: Settings, worker: WorkerProcess) -> Iterator[WorkerProcess]:
    create_topics(settings)
    now = datetime.now(UTC)
    publish_petition(
        settings,
        new_petition(
            PETITION, "Attacked", opens_at=now - timedelta(days=1), confirmation="none", now=now
        ),
    )
    people = [
        signature(n, f"person{n}@mail{n % 3}.example", "FR", "198.51.100.9") for n in range(PEOPLE)
    ]
    bots = [signature(n, f"bot{n}@bots.example", "US", f"203.0.113.{n}") for n in range(BOTS)]
    produce(settings, people + bots)
    worker.start()
    worker.wait_until_serving()
    yield worker


def total(worker: WorkerProcess) -> int | None:
    answer = request(
        f"http://127.0.0.1:{worker.web_port}/api/petitions/{PETITION}/counts", method="GET"
    )
    return answer.body["total"] if answer.status == 200 else None


def wait_for_total(worker: WorkerProcess, expected: int) -> None:
    deadline = time.monotonic() + 90
    while total(worker) != expected and time.monotonic() < deadline:
        time.sleep(1)
    assert total(worker) == expected


def test_ops_invalidate_an_attack_on_the_page_and_reinstate_it(
    attacked: WorkerProcess, settings: Settings
) -> None:
    worker = attacked
    wait_for_total(worker, PEOPLE + BOTS)
    browser = chrome(javascript=True)
    browser.set_window_size(1400, 1100)
    try:
        browser.get(f"http://127.0.0.1:{worker.web_port}/moderation?petition={PETITION}")
        browser.find_element(By.ID, "token").send_keys(settings.ops_token.get_secret_value())
        browser.find_element(By.CSS_SELECTOR, "#login button").click()
        WebDriverWait(browser, 30).until(
            lambda b: "bots.example" in b.find_element(By.ID, "sources").text
        )
        Select(browser.find_element(By.ID, "kind")).select_by_value("domain")
        browser.find_element(By.ID, "selector").send_keys("bots.example")
        browser.find_element(By.ID, "reason").send_keys("bot wave")
        browser.find_element(By.ID, "actor").send_keys("ops on duty")
        browser.find_element(By.ID, "preview").click()
        WebDriverWait(browser, 30).until(
            lambda b: (
                f"{BOTS} signatures would be taken out" in b.find_element(By.ID, "outcome").text
            )
        )
        browser.find_element(By.ID, "invalidate-button").click()
        WebDriverWait(browser, 30).until(
            lambda b: f"{BOTS} signatures invalidated" in b.find_element(By.ID, "outcome").text
        )
        wait_for_total(worker, PEOPLE)
        undo = WebDriverWait(browser, 30).until(
            lambda b: b.find_elements(By.CSS_SELECTOR, "#history button")
        )
        history = browser.find_element(By.ID, "history").text
        assert "bot wave" in history and "ops on duty" in history
        browser.save_screenshot(str(DOCS / "moderation.png"))
        undo[0].click()
        WebDriverWait(browser, 30).until(
            lambda b: f"{BOTS} signatures reinstated" in b.find_element(By.ID, "outcome").text
        )
        wait_for_total(worker, PEOPLE + BOTS)
    finally:
        browser.quit()


def test_the_page_without_the_token_shows_nothing_and_says_so(attacked: WorkerProcess) -> None:
    browser = chrome(javascript=True)
    try:
        browser.get(f"http://127.0.0.1:{attacked.web_port}/moderation?petition={PETITION}")
        browser.find_element(By.ID, "token").send_keys("not-the-token")
        browser.find_element(By.CSS_SELECTOR, "#login button").click()
        WebDriverWait(browser, 30).until(
            lambda b: "not allowed" in b.find_element(By.ID, "status").text
        )
        assert browser.find_element(By.ID, "sources").text == ""
    finally:
        browser.quit()
