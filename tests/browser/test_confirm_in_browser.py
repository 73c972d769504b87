"""A signer in headless Chromium: signs the form, opens the confirmation mail in
Mailpit's own web page, follows the link and sees the count go up; the same link
again says it was confirmed already; an expired link says so."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from streams.catalogue.store import publish_petition
from streams.core.links import CONFIRM_SALT
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.demo.campaign import seed_petition
from streams.testing.mail import MailpitServer
from streams.testing.processes import IntakeProcess, MailerProcess, WorkerProcess
from tests.browser.test_sign_form import chrome, fill, total, wait_for_total

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def site(
    settings: Settings,
    worker: WorkerProcess,
    intake: IntakeProcess,
    tmp_path: Path,
) -> Iterator[tuple[WorkerProcess, IntakeProcess, MailpitServer]]:
    create_topics(settings)
    publish_petition(settings, seed_petition(datetime.now(UTC)))  # confirmation: email
    worker.start()
    worker.wait_until_serving()
    intake.extra_env["COUNTERSIGN_API_PORT"] = str(worker.web_port)
    intake.start(wait_for_petition="syria-icc")
    with MailpitServer(tmp_path / "mailpit").start() as mailpit:
        mailer = MailerProcess(settings, tmp_path / "mailer.log", mailpit.smtp_url, intake.url)
        with mailer:
            mailer.start()
            yield worker, intake, mailpit


def page_text(browser: object, element_id: str) -> str:
    found = WebDriverWait(browser, 30).until(
        expected_conditions.visibility_of_element_located((By.ID, element_id))
    )
    return str(found.text)


def test_sign_open_the_mail_follow_the_link_and_the_count_goes_up(
    site: tuple[WorkerProcess, IntakeProcess, MailpitServer], settings: Settings, tmp_path: Path
) -> None:
    worker, intake, mailpit = site
    browser = chrome(javascript=True)
    try:
        browser.get(f"{intake.url}/petitions/syria-icc/sign")
        fill(browser, "Amina Yusuf", "amina.yusuf@example.org", "NG")
        assert "we sent you an email" in page_text(browser, "thanks-confirm")
        [mail] = mailpit.wait_for_mail("amina.yusuf@example.org")
        assert total(worker) == 0  # pending until the link is followed

        browser.get(f"{mailpit.api_url}/view/{mail.id}")  # Mailpit's own page of it
        WebDriverWait(browser, 30).until(lambda b: "Confirm your signature" in b.page_source)
        browser.save_screenshot(str(tmp_path / "mailpit.png"))

        browser.get(mail.link)
        assert "your signature is confirmed" in page_text(browser, "confirmed")
        assert wait_for_total(worker, 1) == 1

        deadline = time.monotonic() + 30
        again = ""
        while "already confirmed" not in again and time.monotonic() < deadline:
            browser.get(mail.link)  # until serve has the first confirmation
            again = page_text(browser, "confirmed")
        assert "You have already confirmed" in again

        key = settings.signing_key.get_secret_value()
        payload = URLSafeTimedSerializer(key, salt=CONFIRM_SALT).loads(mail.link.rsplit("/")[-1])
        eight_days_ago = int(time.time()) - 8 * 24 * 3600

        class Old(TimestampSigner):
            def get_timestamp(self) -> int:
                return eight_days_ago

        expired = URLSafeTimedSerializer(key, salt=CONFIRM_SALT, signer=Old).dumps(payload)
        browser.get(f"{intake.url}/confirm/{expired}")
        assert "This link has expired" in browser.find_element(By.TAG_NAME, "h1").text
    finally:
        browser.quit()
    assert wait_for_total(worker, 1) == 1
