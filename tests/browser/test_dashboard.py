"""Headless Chromium (Debian's) opens the dashboard and sees the live total reach the
truth, updated by server-sent events without a reload."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from streams.core.settings import Settings
from streams.testing.dataset import dataset_with_truth
from streams.testing.processes import Results, WorkerProcess, prepare, produce

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("Debian's chromium and chromium-driver are not installed (make browser)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_the_live_total_reaches_the_truth(
    settings: Settings,
    worker: WorkerProcess,
    results: Results,
    browser: webdriver.Chrome,
    tmp_path: Path,
) -> None:
    events, petitions, truth = dataset_with_truth(41, 4_000, settings)
    expected = sum(n for (p, _, _), n in truth.counts.items() if p == "syria-icc")
    prepare(settings, petitions)
    worker.start()
    worker.wait_until_serving()
    produce(settings, events[:100])
    time.sleep(3)
    browser.get(f"http://127.0.0.1:{worker.web_port}/?petition=syria-icc")
    first = browser.find_element(By.ID, "total").text
    produce(settings, events[100:])  # the page is open: the rest arrives live
    deadline = time.monotonic() + 180
    shown = ""
    while time.monotonic() < deadline:
        shown = browser.find_element(By.ID, "total").text.replace(",", "")
        if shown == str(expected):
            break
        time.sleep(1)
    screenshot = tmp_path / "dashboard.png"
    browser.save_screenshot(str(screenshot))
    if os.environ.get("COUNTERSIGN_SCREENSHOT_DIR"):
        shutil.copy(screenshot, Path(os.environ["COUNTERSIGN_SCREENSHOT_DIR"]) / "dashboard.png")
    assert shown == str(expected), f"dashboard shows {shown}, truth is {expected}"
    assert first.replace(",", "") != shown  # it changed without a reload
    assert "Syria" in browser.find_element(By.ID, "title").text
