"""The live dashboard in Debian's headless Chromium, against the real pipeline.

One pipeline per module: signatures with a known truth (the reference implementation's
verdicts), stamped over the last two and a half hours so that the 3-hour chart holds
them all. A few hundred are counted before three pages open (1400x1700, 390x844,
1920x1080); the rest arrive while they are open, and each page must follow over
server-sent events, without a reload, until its map, total, chart and countries table
equal the truth. Then the screenshots (docs/dashboard-<width>.png), axe-core's report
(docs/axe-report.json), the keyboard, and the page's word when the server refuses one
viewer too many.

The browser loads nothing but the app's own files: Debian's chromedriver is given by
path (selenium-manager never runs), SE_AVOID_STATS keeps selenium quiet, and axe-core
is read from node_modules by the test and executed in the page, not served.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import re
import shutil
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select

from streams.core.children import free_port
from streams.core.settings import Settings
from streams.demo.simulator import DatasetGenerator, Event, default_petitions
from streams.testing.processes import WorkerProcess, prepare, produce
from streams.testing.reference import Truth, expected

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
BUNDLE = REPO / "streams" / "web" / "static" / "dist" / "dashboard.js"

PETITION = "syria-icc"
SIGNATURES = 3_000
#: Counted before the pages open; the rest arrive live.
BEFORE_PAGES = 300
#: Viewers the server takes at once: the three pages; a fourth is refused.
VIEWER_CAP = 3
WIDTHS = {"1400": (1400, 1700), "390": (390, 844), "1920": (1920, 1080)}
#: The colour of a country without signatures (streams/web/frontend/worldmap.js).
NO_SIGNATURES = "#d6d6d6"
#: What a page shows, read in one script: the total, a country's shape on the map,
#: what uPlot plots (the bars of signatures per bucket; each region's running total).
READ_PAGE = """
const shape = document.querySelector(`#map path[data-country="${arguments[0]}"]`);
const bars = document.getElementById("timeline").uplot;
const regions = document.getElementById("regions-timeline").uplot;
return {
  total: document.getElementById("total").textContent,
  fill: shape && shape.getAttribute("fill"),
  title: shape && shape.querySelector("title").textContent,
  bars: bars ? bars.data[1] : [],
  regions: regions
    ? Object.fromEntries(regions.series.slice(1).map((s, i) => [s.label, regions.data[i + 1]]))
    : {},
};
"""
T = TypeVar("T")


@dataclass
class Run:
    """The module's pipeline and what it must show."""

    url: str
    events: list[Event]
    truth: Truth
    #: The truth of the events counted before the pages opened.
    early: Truth
    #: A country with signatures in the end but none before the pages opened.
    newcomer: str
    worker: WorkerProcess

    def by_country(self, truth: Truth | None = None) -> Counter[str]:
        counts: Counter[str] = Counter()
        for (petition, _, country), n in (truth or self.truth).counts.items():
            if petition == PETITION:
                counts[country] += n
        return counts

    def by_region(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for (petition, region, _), n in self.truth.counts.items():
            if petition == PETITION:
                counts[region] += n
        return counts

    def total(self, truth: Truth | None = None) -> int:
        return sum(self.by_country(truth).values())


@dataclass
class Page:
    driver: webdriver.Chrome
    width: int
    height: int
    #: What it showed before the rest of the signatures arrived.
    before: dict[str, Any] = field(default_factory=dict)

    def read(self, country: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.driver.execute_script(READ_PAGE, country)
        return answer


def live_dataset(
    settings: Settings, seed: int, count: int
) -> tuple[list[Event], list[Any], Truth, datetime]:
    """The simulator's events, stamped evenly over the last 145 minutes (not three days
    ago, as its own clock would): the dashboard's 3-hour chart shows every one."""
    now = datetime.now(UTC).replace(microsecond=0)
    petitions = default_petitions(now)
    start, step = now - timedelta(minutes=145), timedelta(minutes=140) / count
    ticks = itertools.count()
    generator = DatasetGenerator(
        seed, petitions, now, live_clock=lambda: start + step * next(ticks)
    )
    events = generator.generate(count)
    return events, petitions, truth_of(events, petitions, now, settings), now


def milestones_around(total: int) -> tuple[int, ...]:
    """One milestone passed long ago, the next two thousands above ``total``."""
    return (100, (total // 1000 + 1) * 1000, (total // 1000 + 2) * 1000)


def truth_of(events: list[Event], petitions: list[Any], now: datetime, settings: Settings) -> Truth:
    windows = {p.petition_id: (p.opens_at, p.closes_at) for p in petitions}
    return expected([(e.key, e.value) for e in events], windows, now, settings.hash_key)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def eventually(read: Callable[[], T], done: Callable[[T], bool], timeout: float = 180) -> T:
    """``read()`` again until ``done`` says yes or time is up; the last reading."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.5)
        value = read()
    return value


def total_on(page: Page) -> int | None:
    return digits(page.driver.find_element(By.ID, "total").text)


def digits(text: str) -> int | None:
    only = re.sub(r"\D", "", text)
    return int(only) if only else None


@pytest.fixture(scope="module")
def run(kafka: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("Debian's chromium and chromium-driver are not installed (make browser)")
    if not BUNDLE.exists():
        pytest.skip("the dashboard is not built (make install runs npm ci && npm run build)")
    tmp = tmp_path_factory.mktemp("dashboard")
    settings = Settings(
        env="test",
        kafka_bootstrap_servers=kafka,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
        data_dir=tmp / "data",
    )
    events, petitions, truth, now = live_dataset(settings, 14, SIGNATURES)
    early = truth_of(events[:BEFORE_PAGES], petitions, now, settings)
    total = sum(n for (p, _, _), n in truth.counts.items() if p == PETITION)
    petitions = [
        replace(p, thresholds=milestones_around(total)) if p.petition_id == PETITION else p
        for p in petitions
    ]
    with WorkerProcess(settings, tmp / "worker.log", free_port()) as worker:
        worker.extra_env["COUNTERSIGN_SSE_MAX_CONNECTIONS"] = str(VIEWER_CAP)
        prepare(settings, petitions)
        worker.start()
        worker.wait_until_serving()
        produce(settings, events[:BEFORE_PAGES])
        url = f"http://127.0.0.1:{worker.web_port}"
        run = Run(url, events, truth, early, "", worker)
        counts_url = f"{url}/api/petitions/{PETITION}/counts"
        shown = eventually(lambda: get_json(counts_url)["total"], lambda n: n == run.total(early))
        assert shown == run.total(early), worker.log_tail()
        # The newcomer: the biggest country of the end that had nothing at first.
        final, first = run.by_country(), run.by_country(early)
        run.newcomer = max((c for c in final if not first[c] and c != "XK"), key=final.__getitem__)
        yield run


def open_browser(width: int, height: int) -> webdriver.Chrome:
    os.environ["SE_AVOID_STATS"] = "true"  # selenium sends no usage statistics
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--lang=en-US",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    # A window is 500 px wide at least: the viewport of a 390 px phone is emulated.
    emulate(driver, width, height)
    return driver


def emulate(driver: webdriver.Chrome, width: int, height: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500},
    )


@pytest.fixture(scope="module")
def pages(run: Run) -> Iterator[dict[str, Page]]:
    """The three pages, open while the rest of the signatures arrive."""
    opened: dict[str, Page] = {}
    try:
        for name, (width, height) in WIDTHS.items():
            page = Page(open_browser(width, height), width, height)
            opened[name] = page
            page.driver.get(f"{run.url}/?petition={PETITION}")
        for page in opened.values():
            page.before = eventually(
                partial(page.read, run.newcomer),
                lambda shown: (
                    digits(shown["total"]) == run.total(run.early)
                    and shown["title"] is not None
                    and sum(shown["bars"]) == run.total(run.early)
                ),
                timeout=60,
            )
        produce(run.worker.settings, run.events[BEFORE_PAGES:])  # arriving live
        yield opened
    finally:
        for page in opened.values():
            page.driver.quit()


@pytest.fixture(params=list(WIDTHS))
def page(request: pytest.FixtureRequest, pages: dict[str, Page]) -> Page:
    return pages[request.param]


def test_the_total_follows_the_signatures_live_until_it_equals_the_truth(
    run: Run, page: Page
) -> None:
    shown = eventually(lambda: digits(page.read(run.newcomer)["total"]), lambda n: n == run.total())
    assert digits(page.before["total"]) == run.total(run.early) != run.total()
    assert shown == run.total()


def test_a_country_on_the_map_turns_from_empty_to_its_count(run: Run, page: Page) -> None:
    n = run.by_country()[run.newcomer]
    shown = eventually(
        lambda: page.read(run.newcomer), lambda s: s["title"].endswith(f": {n:,} signatures")
    )
    assert page.before["title"].endswith(": no signatures")
    assert page.before["fill"] == NO_SIGNATURES
    assert shown["title"].endswith(f": {n:,} signatures")
    assert shown["fill"] != NO_SIGNATURES


def test_every_country_on_the_map_has_its_count(run: Run, page: Page) -> None:
    read = (
        "return [...document.querySelectorAll('#map path[data-country]')]"
        ".map((p) => [p.dataset.country, Number(p.dataset.signatures)])"
    )
    expected_counts = run.by_country()

    def on_map() -> dict[str, int]:
        return {code: n for code, n in page.driver.execute_script(read) if n}

    shown = eventually(on_map, lambda m: m == dict(expected_counts))
    assert shown == dict(expected_counts)


def test_the_milestone_bar_measures_the_total_against_the_next_milestone(
    run: Run, page: Page
) -> None:
    total = run.total()
    upcoming = min(t for t in milestones_around(total) if t > total)
    driver = page.driver

    def bar() -> tuple[float, float, str]:
        progress = driver.find_element(By.ID, "threshold-progress")
        text = driver.find_element(By.ID, "threshold-text").text
        return float(progress.get_attribute("value")), float(progress.get_attribute("max")), text

    value, most, text = eventually(bar, lambda b: b[0] == total)
    assert (value, most) == (total, upcoming)
    assert text.startswith(f"{total:,} of {upcoming:,} (")
    assert text.endswith(f"{upcoming - total:,} to go.")


def test_the_chart_plots_every_signature_in_its_minute(run: Run, page: Page) -> None:
    shown = eventually(
        lambda: page.read(run.newcomer)["bars"], lambda bars: sum(bars) == run.total()
    )
    assert sum(page.before["bars"]) == run.total(run.early)
    assert sum(shown) == run.total()
    assert len(shown) >= 180  # per minute, three hours of them
    assert max(shown) < run.total()  # spread over the minutes, not one bar


def test_each_regions_line_rises_from_nothing_to_its_total(run: Run, page: Page) -> None:
    def ends() -> dict[str, tuple[int, int]]:
        lines = page.read(run.newcomer)["regions"]
        return {region: (line[0], line[-1]) for region, line in lines.items() if line[-1]}

    expected_ends = {region: (0, n) for region, n in run.by_region().items()}
    shown = eventually(ends, lambda e: e == expected_ends)
    assert shown == expected_ends


def test_the_countries_table_names_every_country_in_the_readers_language(
    run: Run, page: Page
) -> None:
    driver = page.driver
    more = driver.find_element(By.ID, "countries-more")
    if more.get_attribute("aria-expanded") != "true":
        driver.execute_script("arguments[0].click()", more)
    read = """return [...document.querySelectorAll('#countries tbody tr')].map((tr) => [
        tr.dataset.country,
        tr.cells[0].textContent, tr.cells[1].textContent, tr.cells[2].textContent])"""
    expected_counts = run.by_country()

    def rows() -> list[list[str]]:
        answer: list[list[str]] = driver.execute_script(read)
        return answer

    shown = eventually(rows, lambda r: {c: digits(n) for c, _, n, _ in r} == expected_counts)
    names = driver.execute_script(
        "const names = new Intl.DisplayNames(['en-US'], {type: 'region'});"
        "return Object.fromEntries(arguments[0].map((c) => [c, names.of(c)]))",
        list(expected_counts),
    )
    driver.execute_script("arguments[0].click()", more)  # back to the top rows
    assert {code: digits(n) for code, _, n, _ in shown} == expected_counts
    assert {code: name for code, name, _, _ in shown} == names
    assert names["SY"] == "Syria"  # a name, not a code
    assert [digits(n) for _, _, n, _ in shown] == sorted(expected_counts.values(), reverse=True)
    top = shown[0]
    share = expected_counts[top[0]] / run.total()
    assert top[3] == f"{100 * share:.1f}%"


def test_the_layout_holds_at_each_width(run: Run, page: Page) -> None:
    driver = page.driver
    eventually(lambda: digits(page.read(run.newcomer)["total"]), lambda n: n == run.total())
    geometry = driver.execute_script(
        """return {
          inner: window.innerWidth,
          scroll: document.documentElement.scrollWidth,
          cards: [...document.querySelectorAll('main .card')].map((c) => {
            const r = c.getBoundingClientRect();
            return {left: Math.round(r.left), width: r.width, height: r.height};
          }),
          columns: getComputedStyle(document.querySelector('main'))
            .gridTemplateColumns.split(' ').length,
          map: document.getElementById('map').getBoundingClientRect().height,
          chart: document.querySelector('#timeline canvas').getBoundingClientRect().width,
        }"""
    )
    save_full_page(page, DOCS / f"dashboard-{page.width}.png")
    assert geometry["scroll"] <= geometry["inner"]  # nothing runs off the side
    columns = {card["left"] for card in geometry["cards"]}
    assert len(columns) == geometry["columns"]  # every column holds a card
    expected_columns = 1 if page.width < 760 else 3
    assert geometry["columns"] == expected_columns
    narrowest = min(card["width"] for card in geometry["cards"])
    assert narrowest >= (geometry["inner"] - 40) / expected_columns - 40  # none collapsed
    assert geometry["map"] >= 0.4 * narrowest
    assert geometry["chart"] >= 0.8 * narrowest


def save_full_page(page: Page, path: Path) -> None:
    """The whole page at its width: the viewport made as tall as the page, then back."""
    height = page.driver.execute_script("return document.documentElement.scrollHeight")
    emulate(page.driver, page.width, height)
    time.sleep(0.5)  # a frame for the charts to follow their cards' size
    page.driver.save_screenshot(str(path))
    emulate(page.driver, page.width, page.height)


def test_zoomed_out_to_hours_the_chart_holds_the_same_signatures(
    run: Run, pages: dict[str, Page]
) -> None:
    page = pages["1400"]
    driver = page.driver
    eventually(lambda: sum(page.read(run.newcomer)["bars"]), lambda n: n == run.total())
    driver.find_element(By.CSS_SELECTOR, "#zoom button[data-zoom='hour']").send_keys(Keys.ENTER)
    try:
        hourly = eventually(
            lambda: page.read(run.newcomer)["bars"],
            lambda bars: 7 * 24 <= len(bars) <= 7 * 24 + 2 and sum(bars) == run.total(),
            60,
        )
        heading = driver.find_element(By.ID, "timeline-heading").text
    finally:
        driver.find_element(By.CSS_SELECTOR, "#zoom button[data-zoom='minute']").click()
    assert "per hour" in heading
    assert 7 * 24 <= len(hourly) <= 7 * 24 + 2  # a week of hours
    assert sum(hourly) == run.total()
    assert sum(1 for n in hourly if n) <= 4  # 145 minutes fall into three or four hours


def download(page: Page, button: str, suffix: str, folder: Path) -> Path:
    """Click a download button; the file the browser saved, once it finished writing
    it: no partial download left in the folder and the file not empty. (A run under
    load once read a CSV with no rows at all: the file was taken as soon as it
    existed.)"""
    page.driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)}
    )
    page.driver.find_element(By.ID, button).click()

    def written() -> list[Path]:
        files = sorted(folder.glob(f"*{suffix}"))
        if not files or any(folder.glob("*.crdownload")) or files[0].stat().st_size == 0:
            return []
        return files

    saved = eventually(written, bool, 30)
    assert saved, f"no {suffix} file was saved"
    return saved[0]


def test_the_json_download_holds_what_is_on_screen(
    run: Run, pages: dict[str, Page], tmp_path: Path
) -> None:
    page = pages["1400"]
    eventually(lambda: sum(page.read(run.newcomer)["bars"]), lambda n: n == run.total())
    saved = json.loads(download(page, "download-json", ".json", tmp_path).read_text())
    assert saved["petition_id"] == PETITION
    assert saved["total"] == run.total()
    assert {c["code"]: c["signatures"] for c in saved["countries"]} == run.by_country()
    assert saved["by_region"] == run.by_region()
    assert saved["timeline"]["bucket"] == "minute"
    assert sum(p["signatures"] for p in saved["timeline"]["points"]) == run.total()
    assert PETITION in {c["petition_id"] for c in saved["compared"]}


def test_the_csv_download_holds_what_is_on_screen(
    run: Run, pages: dict[str, Page], tmp_path: Path
) -> None:
    page = pages["1400"]
    eventually(lambda: sum(page.read(run.newcomer)["bars"]), lambda n: n == run.total())
    saved = download(page, "download-csv", ".csv", tmp_path)
    with saved.open(newline="") as file:
        rows = list(csv.DictReader(file))
    by_section: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_section.setdefault(row["section"], []).append(row)
    assert [int(r["value"]) for r in by_section["total"]] == [run.total()]
    assert {r["key"]: int(r["value"]) for r in by_section["country"]} == run.by_country()
    assert sum(int(r["value"]) for r in by_section["signatures_per_minute"]) == run.total()


def test_axe_finds_no_serious_or_critical_violation_at_any_width(
    run: Run, pages: dict[str, Page]
) -> None:
    report: dict[str, Any] = {}
    serious: list[str] = []
    for name, page in pages.items():
        eventually(partial(total_on, page), run.total().__eq__)
        page.driver.execute_script(AXE.read_text())
        result = page.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document).then((r) => done(r), (e) => done({error: String(e)}));"
        )
        assert "error" not in result, result
        report[name] = {
            "url": result["url"],
            "testEngine": result["testEngine"],
            "violations": [
                {
                    "id": v["id"],
                    "impact": v["impact"],
                    "help": v["help"],
                    "nodes": [n["target"] for n in v["nodes"]],
                }
                for v in result["violations"]
            ],
            # What axe could not decide alone (for a person to review).
            "incomplete": [
                {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]}
                for v in result["incomplete"]
            ],
            "passes": len(result["passes"]),
        }
        serious += [
            f"{name}: {v['id']} {v['help']} {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
    (DOCS / "axe-report.json").write_text(json.dumps(report, indent=2) + "\n")
    assert serious == []


def test_the_pages_load_nothing_but_the_apps_own_files(run: Run, pages: dict[str, Page]) -> None:
    loaded: set[str] = set()
    for page in pages.values():
        loaded |= set(
            page.driver.execute_script(
                "return [location.href,"
                " ...performance.getEntriesByType('resource').map((e) => e.name)]"
            )
        )
    elsewhere = {url for url in loaded if not url.startswith(f"{run.url}/")}
    assert f"{run.url}/static/dist/countries-50m.json" in loaded
    assert elsewhere == set()


def test_the_keyboard_reaches_the_petitions_zoom_sort_and_map(pages: dict[str, Page]) -> None:
    driver = pages["1400"].driver
    driver.find_element(By.TAG_NAME, "body").click()
    reached: set[str] = set()
    describe = (
        "const e = document.activeElement;"
        "return e.id === 'petition' ? 'petition' : e.classList.contains('zoom') ? 'zoom'"
        " : e.classList.contains('sort') ? 'sort' : e.classList.contains('region') ? 'region'"
        " : e.matches('#map path') ? 'map' : e.tagName;"
    )
    wanted = {"petition", "zoom", "sort", "region", "map"}
    focused = driver.switch_to.active_element
    for _ in range(200):  # the page's stops, with a country on the map for each count
        focused.send_keys(Keys.TAB)
        focused = driver.switch_to.active_element
        reached.add(driver.execute_script(describe))
        if wanted <= reached:
            break
    assert wanted <= reached


def test_a_sort_button_pressed_with_the_keyboard_orders_the_table(
    run: Run, pages: dict[str, Page]
) -> None:
    driver = pages["1400"].driver
    button = driver.find_elements(By.CSS_SELECTOR, "#countries thead button.sort")[0]
    button.send_keys(Keys.ENTER)  # by country name, A to Z
    header = driver.find_elements(By.CSS_SELECTOR, "#countries thead th")[0]
    names = [
        row.text
        for row in driver.find_elements(By.CSS_SELECTOR, "#countries tbody th[scope='row']")
    ]
    order = driver.execute_script(
        "return [...arguments[0]].sort((a, b) => a.localeCompare(b))", names
    )
    driver.find_elements(By.CSS_SELECTOR, "#countries thead button.sort")[1].send_keys(Keys.ENTER)
    assert header.get_attribute("aria-sort") == "none"  # back to signatures
    assert names == order and len(names) > 1


def test_a_region_selected_by_keyboard_narrows_the_map_and_the_table(
    run: Run, pages: dict[str, Page]
) -> None:
    driver = pages["1400"].driver
    region = "Europe and Central Asia"
    in_region = {c for (p, r, c) in run.truth.counts if p == PETITION and r == region}
    button = driver.find_element(By.CSS_SELECTOR, f"#regions button[data-region='{region}']")
    button.send_keys(Keys.ENTER)
    try:
        pressed = button.get_attribute("aria-pressed")
        rows = [
            tr.get_attribute("data-country")
            for tr in driver.find_elements(By.CSS_SELECTOR, "#countries tbody tr")
        ]
        dimmed = driver.execute_script(
            "return [...document.querySelectorAll('#map path.dimmed')]"
            ".map((p) => p.dataset.country)"
        )
    finally:
        driver.find_element(By.CSS_SELECTOR, "#regions button:not([data-region])").click()
    assert pressed == "true"
    assert set(rows) <= in_region and len(rows) == min(25, len(in_region))
    assert "FR" not in dimmed and "US" in dimmed


def test_a_country_focused_by_keyboard_shows_its_name_and_count(
    run: Run, pages: dict[str, Page]
) -> None:
    driver = pages["1400"].driver
    n = run.by_country()["SY"]
    driver.execute_script("document.querySelector('#map path[data-country=\"SY\"]').focus()")
    tooltip = driver.find_element(By.ID, "map-tooltip")
    assert tooltip.is_displayed()
    assert "Syria" in tooltip.text and f"{n:,} signatures" in tooltip.text


def test_a_viewer_past_the_cap_is_told_the_live_view_is_full_and_sees_a_snapshot(
    run: Run, pages: dict[str, Page]
) -> None:
    extra = open_browser(1400, 900)  # the three pages hold every connection
    try:
        extra.get(f"{run.url}/?petition={PETITION}")
        notice = eventually(
            lambda: extra.find_element(By.ID, "notice"), lambda n: n.is_displayed(), 30
        )
        total = eventually(
            lambda: digits(extra.find_element(By.ID, "total").text),
            lambda n: n == run.total(),
            30,
        )
        assert notice.is_displayed()
        assert "Too many people are watching" in notice.text
        assert re.search(r"tries again in \d+ seconds", notice.text)
        assert total == run.total()
    finally:
        extra.quit()


def test_the_petition_selector_switches_the_page_to_another_petition(
    run: Run, pages: dict[str, Page]
) -> None:
    driver = pages["1400"].driver
    other = "free-press"
    expected_total = sum(n for (p, _, _), n in run.truth.counts.items() if p == other)
    Select(driver.find_element(By.ID, "petition")).select_by_value(other)
    shown = eventually(lambda: total_on(pages["1400"]), expected_total.__eq__, 60)
    title = driver.find_element(By.ID, "title").text
    assert shown == expected_total != run.total()
    assert title == "Free Press"
    assert driver.current_url.endswith(f"?petition={other}")
