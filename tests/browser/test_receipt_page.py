"""The /receipt page in headless Chromium checks a signer's receipt itself: it holds
against an honest log, and the page says it does not when the receipt was changed,
when the server took the signer's leaf out, when the log forked from the head the
signer kept, and when the head is signed by another key than the one given. The log
is served by tests/log_server.py (the API's answers, from leaves the test chooses);
the page and its script are the ones `countersign serve` serves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from streams.audit.public_log import PublicLog, receipt_from_log
from streams.rules import receipt_file
from streams.rules.signed_note import Signer
from streams.rules.transparency import salt
from tests.browser.test_sign_form import chrome
from tests.log_server import KEY, PETITION, SIGNER, Served, honest_leaves, log_server, signed_head

pytestmark = [pytest.mark.slow]
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    driver = chrome(javascript=True)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def server() -> Iterator[tuple[str, list[Served]]]:
    with log_server() as running:
        yield running


def claim(n: int) -> str:
    """The first half of signer ``sig-n``'s receipt, as the intake gave it."""
    return json.dumps(receipt_file.claim(PETITION, f"sig-{n}", "SY", salt(KEY, f"sig-{n}")))


def check(browser: WebDriver, url: str, receipt: str, key: str | None = None) -> str:
    """What the page says of ``receipt`` (with the key /api/keys gave, or ``key``)."""
    browser.get(f"{url}/receipt")
    field = browser.find_element(By.ID, "key")
    WebDriverWait(browser, 10).until(lambda b: field.get_attribute("value"))
    if key is not None:
        field.clear()
        field.send_keys(key)
    browser.execute_script("document.getElementById('receipt').value = arguments[0]", receipt)
    browser.find_element(By.CSS_SELECTOR, "#check button").click()
    result = browser.find_element(By.ID, "result")
    WebDriverWait(browser, 20).until(lambda _: result.text not in ("", "Checking…"))
    return str(result.text)


def test_a_signers_receipt_holds_in_the_browser(
    browser: WebDriver, server: tuple[str, list[Served]]
) -> None:
    url, served = server
    leaves = honest_leaves(9)
    served.append(Served(leaves, signed_head(leaves)))
    said = check(browser, url, claim(4))
    assert said == (
        "Your signature is in the log: leaf 4 of 9 in the head of "
        f"countersign.test/{PETITION}, signed by countersign.test; the log counts 9 signatures."
    )
    assert browser.find_element(By.ID, "keep").is_displayed()
    browser.set_window_size(1000, 800)
    browser.save_screenshot(str(DOCS / "receipt.png"))


def test_a_changed_receipt_does_not_hold(
    browser: WebDriver, server: tuple[str, list[Served]]
) -> None:
    url, served = server
    leaves = honest_leaves(9)
    served.append(Served(leaves, signed_head(leaves)))
    changed = json.loads(claim(4)) | {"country": "FR"}
    said = check(browser, url, json.dumps(changed))
    assert said.startswith("This receipt does not hold:")


def whole_receipt(url: str, n: int) -> str:
    """Signer ``sig-n``'s whole receipt, made while the log was honest."""
    made = receipt_from_log(
        PublicLog(url, PETITION), f"sig-{n}", "SY", salt(KEY, f"sig-{n}"), SIGNER.verifier
    )
    return receipt_file.dumps(made)


def test_a_leaf_taken_out_is_caught_by_a_kept_receipt(
    browser: WebDriver, server: tuple[str, list[Served]]
) -> None:
    url, served = server
    leaves = honest_leaves(9)
    served.append(Served(leaves, signed_head(leaves)))
    kept = whole_receipt(url, 6)
    shorter = leaves[:6] + leaves[7:]
    served[0] = Served(shorter, signed_head(shorter))
    said = check(browser, url, kept)
    assert said == "This receipt does not hold: the log shrank: 9 leaves then, 8 now"


def test_a_forked_log_is_caught_by_a_kept_receipt(
    browser: WebDriver, server: tuple[str, list[Served]]
) -> None:
    url, served = server
    leaves = honest_leaves(7)
    served.append(Served(leaves, signed_head(leaves)))
    kept = whole_receipt(url, 2)
    forked = [*leaves[:2], *honest_leaves(12)[8:], *leaves[2:]]
    served[0] = Served(forked, signed_head(forked))
    said = check(browser, url, kept)
    assert said == (
        "This receipt does not hold: the newest head does not extend your receipt's: "
        "the log was rewritten"
    )


def test_a_head_signed_by_another_key_is_refused(
    browser: WebDriver, server: tuple[str, list[Served]]
) -> None:
    url, served = server
    leaves = honest_leaves(5)
    impostor = Signer("countersign.test", bytes(range(1, 33)))
    served.append(Served(leaves, signed_head(leaves, impostor), signer=impostor))
    said = check(browser, url, claim(1), key=SIGNER.verifier.encode())
    assert said == "This receipt does not hold: the head is not signed by countersign.test"
