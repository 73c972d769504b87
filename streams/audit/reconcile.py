"""``countersign reconcile``: the counts recomputed from the log, next to every count
Countersign shows.

Three places hold a count and must all equal the recount: the aggregate's totals in
ClickHouse (``regional_counts``, what the dashboard reads), ClickHouse's own count of
the signature rows (``signature_counts``), and the public JSON API. Rejections are
compared per petition and reason the same way (the table ``rejections``).

The log is recounted by partition groups in parallel processes (one per core): a
dedupe key's submissions share a partition unless two key formats were mixed, and
``Recount.merge`` settles those across groups.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from streams.audit.recount import Recount, confirmation_times, invalidated_keys
from streams.audit.serve_client import ServeClient
from streams.catalogue.store import read_catalogue, window
from streams.core.logscan import LogRange, scan, whole_log
from streams.core.settings import Settings
from streams.core.topicspecs import CONFIRMATIONS, MODERATIONS, SUBMITTED
from streams.rules.countries import region_of
from streams.rules.petitions import PetitionWindow

#: The region column of a rejection row: its "country" is the reason.
REJECTED = "(rejected)"
#: The region column of a petition's total rows (``total``, ``pending``).
TOTAL = "(all regions)"
#: Where each number is shown: the aggregate's totals, ClickHouse's count of the
#: signature rows, the public API; rejections: their table and the API.
COUNT_SOURCES = ("regional_counts", "signatures", "api")
REJECTION_SOURCES = ("rejections", "api")


@dataclass(frozen=True)
class Row:
    """One number as the log gives it (``expected``) and as each source shows it."""

    petition: str
    region: str
    country: str
    expected: int
    found: dict[str, int]
    #: How far a number may lawfully be off: contested keys that may count here.
    leeway: int = 0

    @property
    def agrees(self) -> bool:
        return all(abs(n - self.expected) <= self.leeway for n in self.found.values())


@dataclass
class Report:
    log: LogRange
    events: int
    contested: int
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def differences(self) -> list[Row]:
        return [row for row in self.rows if not row.agrees]

    def as_json(self) -> dict[str, Any]:
        return {
            "log": {"topic": self.log.topic, "offsets": self.log.offsets},
            "events": self.events,
            "contested_keys": self.contested,
            "seconds": round(self.seconds, 2),
            "agrees": not self.differences,
            "rows": [
                {
                    "petition": r.petition,
                    "region": r.region,
                    "country": r.country,
                    "expected": r.expected,
                    "found": r.found,
                    "agrees": r.agrees,
                }
                for r in self.rows
            ],
        }


# -- the recount, in parallel ---------------------------------------------------------
_progress: Any = None  # a shared counter of records read, set in each child process


def _share_progress(counter: Any) -> None:
    global _progress  # noqa: PLW0603  (one per child process, set by the pool)
    _progress = counter


def _advance(n: int) -> None:
    with _progress.get_lock():
        _progress.value += n


def _recount_part(
    settings: Settings,
    log: LogRange,
    windows: dict[str, PetitionWindow],
    confirmations: dict[bytes, float],
    invalidated: set[bytes],
) -> dict[str, Any]:
    """A part's findings, as plain data to send back to the parent process."""
    records = scan(settings, log, _advance)
    part = Recount.of(
        records,
        windows,
        settings.hash_key,
        log.topic,
        confirmations=confirmations,
        invalidated=invalidated,
        previous_keys=settings.previous_hash_keys,
    )
    return {name: getattr(part, name) for name in Recount.FINDINGS}


def recount_log(
    settings: Settings,
    log: LogRange,
    windows: dict[str, PetitionWindow],
    on_progress: Callable[[int], None],
    *,
    workers: int | None = None,
    confirmations: dict[bytes, float] | None = None,
    invalidated: set[bytes] | None = None,
) -> Recount:
    """The recount of ``log``: its partitions dealt round-robin to ``workers``
    processes (default: one per core), merged here. ``confirmations``: the log time
    of each signer's first confirmation (``confirmations_in``)."""
    confirmations = confirmations or {}
    invalidated = invalidated or set()
    partitions = sorted(log.offsets)
    workers = max(1, min(workers or os.cpu_count() or 1, len(partitions)))
    groups = [partitions[i::workers] for i in range(workers)]
    context = multiprocessing.get_context("fork")
    counter = context.Value("q", 0)

    def fresh() -> Recount:
        return Recount(
            windows,
            settings.hash_key,
            log.topic,
            confirmations=confirmations,
            invalidated=invalidated,
            previous_keys=settings.previous_hash_keys,
        )

    total = fresh()
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_share_progress, initargs=(counter,)
    ) as pool:
        futures = [
            pool.submit(_recount_part, settings, log.only(g), windows, confirmations, invalidated)
            for g in groups
        ]
        reported = 0
        while not all(f.done() for f in futures):
            time.sleep(0.2)
            on_progress(counter.value - reported)
            reported = counter.value
        on_progress(counter.value - reported)
        for future in futures:
            findings = future.result()
            part = fresh()
            for name, value in findings.items():
                setattr(part, name, value)
            total.merge(part)
    return total


def confirmations_in(settings: Settings) -> dict[bytes, float]:
    """Every signer's first confirmation on signatures.confirmations, as it stands."""
    return confirmation_times(scan(settings, whole_log(settings, CONFIRMATIONS.name)))


def invalidated_in(settings: Settings) -> set[bytes]:
    """Signers whose latest moderation on signatures.moderations took them out."""
    return invalidated_keys(scan(settings, whole_log(settings, MODERATIONS.name)))


def petition_windows(settings: Settings) -> dict[str, PetitionWindow]:
    return {pid: window(p) for pid, p in read_catalogue(settings).items()}


# -- what Countersign shows -----------------------------------------------------------
Found = dict[tuple[str, str, str], dict[str, int]]


def found_counts(client: ServeClient, petitions: list[str]) -> Found:
    """Every number each source shows, keyed like the recount's rows."""
    found: Found = {}

    def put(key: tuple[str, str, str], source: str, n: int) -> None:
        found.setdefault(key, {})[source] = n

    tables = client.get("/counts")
    for source, table in (("regional_counts", "aggregate"), ("signatures", "recount")):
        for petition, region, country, n, waiting in tables[table]:
            put((petition, region, country), source, n)
            for name, number in (("total", n), ("pending", waiting)):
                key = (petition, TOTAL, name)
                put(key, source, found.get(key, {}).get(source, 0) + number)
    for petition, reason, n in tables["rejected"]:
        put((petition, REJECTED, reason), "rejections", n)
    for petition in petitions:
        api = client.get(f"/api/petitions/{petition}/counts", ops=False)
        put((petition, TOTAL, "total"), "api", int(api["total"]))
        put((petition, TOTAL, "pending"), "api", int(api.get("pending", 0)))
        for country, n in api["by_country"].items():
            put((petition, region_of(country), country), "api", n)
        for reason, n in api["rejected"].items():
            if n:
                put((petition, REJECTED, reason), "api", n)
    return found


def compare(recount: Recount, found: Found, known: Mapping[str, object]) -> list[Row]:
    """A row for every number either side has; a missing number is 0. Rejections of
    petitions the catalogue does not know (``unknown_petition``) are rows too."""
    counts = recount.counts()
    expected: dict[tuple[str, str, str], int] = dict(counts)
    for (petition, _, _), n in counts.items():
        total = (petition, TOTAL, "total")
        expected[total] = expected.get(total, 0) + n
    for petition, n in recount.pending().items():
        expected[(petition, TOTAL, "pending")] = n
    for (petition, reason), n in recount.rejected.items():
        expected[(petition, REJECTED, reason)] = n
    leeway = recount.leeway()
    for (petition, reason), n in recount.close_calls.items():
        leeway[(petition, REJECTED, reason)] += n
    rows = []
    for key in sorted(set(expected) | set(found)):
        petition, region, country = key
        sources: tuple[str, ...] = COUNT_SOURCES if region != REJECTED else REJECTION_SOURCES
        if petition not in known:
            sources = sources[:-1]  # the API answers only for petitions it knows
        shown = found.get(key, {})
        numbers = {source: shown.get(source, 0) for source in sources}
        rows.append(Row(petition, region, country, expected.get(key, 0), numbers, leeway[key]))
    return rows


def reconcile(
    settings: Settings,
    *,
    petition: str | None,
    settle_seconds: float,
    on_start: Callable[[LogRange], None],
    on_progress: Callable[[int], None],
    on_waiting: Callable[[int], None],
) -> Report:
    """Recount the whole log as it stands now, then compare until every number agrees
    or ``settle_seconds`` pass (the pipeline may still be counting the log's tail)."""
    started = time.monotonic()
    log = whole_log(settings, SUBMITTED.name)
    on_start(log)
    windows = petition_windows(settings)
    recount = recount_log(
        settings,
        log,
        windows,
        on_progress,
        confirmations=confirmations_in(settings),
        invalidated=invalidated_in(settings),
    )
    client = ServeClient(settings)
    deadline = time.monotonic() + settle_seconds
    while True:
        rows = compare(recount, found_counts(client, sorted(windows)), windows)
        if petition is not None:
            rows = [row for row in rows if row.petition == petition]
        report = Report(log, recount.events, len(recount.contested), rows)
        if not report.differences or time.monotonic() >= deadline:
            break
        on_waiting(len(report.differences))
        time.sleep(2)
    report.seconds = time.monotonic() - started
    return report
