"""The public log end to end (docs/transparency.md): the worker says whether each
signature counts, the sink's writer appends the leaves and signs the heads, and at the
end every petition's log adds up to its count, passes the public audit against the
heads it signed, and proves a signer's leaf; with the worker and the writer each
killed (SIGKILL) mid-stream, nothing is appended twice or lost."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from streams.core.settings import Settings
from streams.core.transparency_settings import DEVELOPMENT_TRANSPARENCY_SIGNER_KEY
from streams.rules import merkle
from streams.rules.signed_note import Checkpoint, Signer, Verifier, open_note
from streams.rules.transparency import audit
from streams.testing.cleanup import delete_run_topics
from streams.testing.dataset import Event, dataset_with_truth
from streams.testing.processes import (
    IntakeProcess,
    Results,
    ServeProcess,
    WorkerProcess,
    prepare,
    produce,
)
from streams.testing.public_logs import Logs, read_public_logs, totals_per_petition
from tests.browser.test_sign_form import chrome, fill
from tests.conftest import isolated_settings
from tests.intake_client import post_json

pytestmark = [pytest.mark.slow]

VERIFIER = Signer.parse(DEVELOPMENT_TRANSPARENCY_SIGNER_KEY).verifier
#: The truth's own region of Syria (docs/regions), apart from the pipeline's table.
REGION_OF_SY = "Middle East and North Africa"


@pytest.fixture
def settings(kafka: str, test_id: str, tmp_path: Path) -> Iterator[Settings]:
    logged = isolated_settings(kafka, test_id, tmp_path).model_copy(
        update={"transparency_log": True, "transparency_head_interval_seconds": 1.0}
    )
    yield logged
    delete_run_topics(logged)


def the_logs(settings: Settings) -> Logs:
    return read_public_logs(settings, VERIFIER)


def logged(settings: Settings) -> int:
    """How many leaves all the petitions' logs hold together."""
    return sum(len(log) for log in the_logs(settings)[0].values())


def wait_for_logs(settings: Settings, expected: dict[str, int], timeout: float) -> None:
    """Until every petition's newest head covers a log that adds up to ``expected``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leaves, heads = the_logs(settings)
        counts = {p: audit(leaves[p], []).count for p in leaves}
        newest = {p: max(h.size for h in hs) for p, hs in heads.items()}
        if counts == expected and all(newest.get(p) == len(leaves[p]) for p in leaves):
            return
        time.sleep(1)


@pytest.mark.kills
@pytest.mark.timeout(900)
def test_each_log_adds_up_to_its_count_after_the_worker_and_the_writer_were_killed(
    settings: Settings,
    worker: WorkerProcess,
    intake: IntakeProcess,
    results: Results,
    tmp_path: Path,
) -> None:
    events, petitions, truth = dataset_with_truth(29, 6_000, settings)
    prepare(settings, petitions)
    worker.start()
    receipt_page = f"http://127.0.0.1:{worker.web_port}/receipt"
    intake.extra_env["COUNTERSIGN_TRANSPARENCY_RECEIPT_URL"] = receipt_page
    intake.start(wait_for_petition=petitions[0].petition_id)
    # One signer through the form in a browser keeps the thank-you page's link.
    check_link = sign_in_a_browser(intake, petitions[0].petition_id)
    assert check_link.startswith(receipt_page + "#receipt=")
    truth.counts[(petitions[0].petition_id, REGION_OF_SY, "SY")] += 1
    # One signer through the intake keeps the first half of their receipt.
    signed = post_json(
        intake.url,
        petitions[0].petition_id,
        {"full_name": "Layla Haddad", "email": "layla@example.org", "country": "sy"},
    )
    assert signed.status == 202, signed
    claim = signed.body["receipt"]
    assert (claim["petition_id"], claim["country"]) == (petitions[0].petition_id, "SY")
    truth.counts[(petitions[0].petition_id, REGION_OF_SY, "SY")] += 1
    assert worker.api is not None
    serve = worker.api
    logged_at_kill = produce_killing_the_writer_mid_log(settings, serve, events)
    # The worker, at two thirds of the counts.
    while sum(results.counts().values()) < truth.total_accepted() * 2 // 3:
        results.poll(0.5)
    worker.kill()
    time.sleep(1)
    worker.start()
    results.wait_for(truth, timeout=600, worker=worker)
    assert results.counts() == truth.counts
    expected = totals_per_petition(truth.counts)
    assert 0 < logged_at_kill < sum(expected.values())
    wait_for_logs(settings, expected, timeout=120)

    leaves, heads = the_logs(settings)
    assert {p: audit(leaves[p], []).count for p in leaves} == expected
    for petition, log in leaves.items():
        report = audit(log, heads[petition])
        assert report.problems == []
        assert report.removed == 0  # nothing in this dataset is withdrawn or invalidated
        assert max(h.size for h in heads[petition]) == len(log)
    check_reconcile(worker, expected, tmp_path)
    petition = max(leaves, key=lambda p: len(leaves[p]))
    head = max(heads[petition], key=lambda h: h.size)
    assert head.origin == f"{settings.transparency_origin}/{petition}"
    assert head.extensions == (f"count {expected[petition]}",)
    api = f"http://127.0.0.1:{worker.web_port}"
    check_the_api(api, petition, leaves[petition], heads[petition])
    check_the_tools(worker, api, claim, tmp_path)
    check_the_page(check_link)


def produce_killing_the_writer_mid_log(
    settings: Settings, serve: ServeProcess, events: list[Event]
) -> int:
    """Produce ``events``, killing the log's writer once it has appended some leaves,
    before the second half exists: its successor must rebuild the logs from what it
    appended and go on. (Killing it at a share of the counts raced: on a fast machine
    it had appended every leaf before the counts got there.) The leaves at the kill."""
    half = len(events) // 2
    produce(settings, events[:half])
    deadline = time.monotonic() + 300
    while not (logged_at_kill := logged(settings)):
        assert time.monotonic() < deadline, "the writer appended nothing in 300 s"
        time.sleep(0.2)
    serve.kill()
    produce(settings, events[half:])
    time.sleep(1)
    serve.start({})
    return logged_at_kill


def check_reconcile(worker: WorkerProcess, expected: dict[str, int], tmp: Path) -> None:
    """``reconcile`` holds each petition's newest signed head to the recount of the log."""
    reconcile = ["reconcile", "--public-logs", "--settle", "60", "--format", "json"]
    reconciled = worker.run(reconcile, tmp / "r.log")
    vouched = {
        row["petition"]: row["found"]["public log"]
        for row in json.loads(reconciled.stdout)["rows"]
        if (row["region"], row["country"]) == ("(all regions)", "total")
    }
    assert vouched == {petition: expected.get(petition, 0) for petition in vouched}
    assert set(expected) <= set(vouched)


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.load(answer)


def check_the_api(api: str, petition: str, leaves: list[bytes], heads: list[Checkpoint]) -> None:
    """What anyone can check from the API alone, against the key it publishes."""
    verifier = Verifier.parse(get(f"{api}/api/keys")["transparency"]["key"])
    assert verifier == VERIFIER
    deadline = time.monotonic() + 60  # the sink stores the newest head shortly after
    while (served := get(f"{api}/api/petitions/{petition}/log/head"))["tree_size"] < len(leaves):
        assert time.monotonic() < deadline, served
        time.sleep(0.5)
    newest = Checkpoint.parse(open_note(served["note"], verifier))
    assert newest.size == len(leaves) == served["tree_size"]
    # A signer's leaf: found by its bytes, proved against the newest head.
    index = len(leaves) // 2
    proved = get(f"{api}/api/petitions/{petition}/log/proof?leaf={leaves[index].hex()}")
    path = [bytes.fromhex(node) for node in proved["proof"]]
    assert proved["leaf_index"] == index
    leaf_hash = merkle.leaf_hash(leaves[index])
    assert merkle.verify_inclusion(index, newest.size, leaf_hash, path, newest.root)
    # The oldest head the writer signed is a prefix of the newest.
    oldest = min(heads, key=lambda h: h.size)
    answer = get(f"{api}/api/petitions/{petition}/log/consistency?from={oldest.size}")
    path = [bytes.fromhex(node) for node in answer["proof"]]
    assert merkle.verify_consistency(oldest.size, newest.size, path, oldest.root, newest.root)
    # Every leaf, a page at a time, as an auditor downloads them.
    pages, start = [], 0
    while page := get(f"{api}/api/petitions/{petition}/log/leaves?start={start}&end={start + 700}")[
        "leaves"
    ]:
        pages += [bytes.fromhex(data) for data in page]
        start += len(page)
    assert pages == leaves


def check_the_tools(worker: WorkerProcess, api: str, claim: dict[str, Any], tmp: Path) -> None:
    """The signer's receipt holds with ``verify-receipt`` (from the intake's half, then
    offline from the whole), a changed one does not; ``audit-log`` holds, and catches
    a forked head kept from before."""
    key = VERIFIER.encode()
    (tmp / "claim.json").write_text(json.dumps(claim))
    verify = ["verify-receipt", "--key", key]
    whole = ["--api", api, "--save", str(tmp / "r.json")]
    held = worker.run([*verify, str(tmp / "claim.json"), *whole], tmp / "cli.log")
    assert "the receipt holds" in held.stdout
    worker.run([*verify, str(tmp / "r.json")], tmp / "cli.log")
    changed = json.loads((tmp / "r.json").read_text()) | {"country": "FR"}
    (tmp / "changed.json").write_text(json.dumps(changed))
    refused = worker.run([*verify, str(tmp / "changed.json")], tmp / "cli.log", expect=1)
    assert "does not hold" in refused.stdout + refused.stderr

    petition = claim["petition_id"]
    audit = ["audit-log", petition, "--api", api, "--key", key, "--heads", str(tmp / "heads")]
    done = worker.run(audit, tmp / "cli.log")
    assert f"the log of {petition} holds" in done.stdout
    # A head of the same log, signed with the log's key, that another log grew from.
    newest = Checkpoint.parse(open_note((tmp / "heads").read_text().split("\x00")[0], VERIFIER))
    forked = Checkpoint(newest.origin, 2, merkle.root([merkle.leaf_hash(b"other")] * 2), ())
    fork = Signer.parse(DEVELOPMENT_TRANSPARENCY_SIGNER_KEY).sign(forked.text())
    with (tmp / "heads").open("a") as heads:
        heads.write(fork + "\x00\n")
    caught = worker.run(audit, tmp / "cli.log", expect=1)
    assert (
        "the head at size 2 does not match the log's first 2 leaves"
        in caught.stdout + caught.stderr
    )


def sign_in_a_browser(intake: IntakeProcess, petition: str) -> str:
    """Sign through the intake's form (with JavaScript); the thank-you's link to
    check the receipt."""
    browser = chrome(javascript=True)
    try:
        browser.get(f"{intake.url}/petitions/{petition}/sign")
        fill(browser, "Omar Haddad", "omar.receipt@example.org", "SY")
        check = WebDriverWait(browser, 30).until(
            expected_conditions.visibility_of_element_located((By.ID, "receipt-check"))
        )
        return str(check.get_attribute("href"))
    finally:
        browser.quit()


def check_the_page(link: str) -> None:
    """The signer's browser checks their receipt on /receipt, reached by the thank-you
    page's link (which carries it in its fragment, never sent to the server)."""
    browser = chrome(javascript=True)
    try:
        browser.get(link)
        key = browser.find_element(By.ID, "key")
        WebDriverWait(browser, 10).until(lambda _: key.get_attribute("value"))
        assert key.get_attribute("value") == VERIFIER.encode()
        browser.find_element(By.CSS_SELECTOR, "#check button").click()
        result = browser.find_element(By.ID, "result")
        WebDriverWait(browser, 20).until(lambda _: result.text not in ("", "Checking…"))
        assert result.text.startswith("Your signature is in the log: leaf "), result.text
    finally:
        browser.quit()
