"""``countersign reconcile``: the counts recomputed from the log, next to every count
Countersign shows.

Three places hold a count and must all equal the recount: the aggregate's totals in
ClickHouse (``regional_counts``, what the dashboard reads), ClickHouse's own count of
the signature rows (``signature_counts``), and the public JSON API. Rejections are
compared per petition and reason the same way (the table ``rejections``).

Asked to (``public_logs``; docs/transparency.md), each petition's newest signed head is
a fourth place: the count it vouches for (its additions minus its removals, which
``audit-log`` checks against its leaves) must equal the petition's recounted total.
A head does not say which part of the log it covers yet, so this holds once the
petition's traffic stopped; while it grows, the head trails the recount.

The log is recounted by partition groups in parallel processes (one per core): a
dedupe key's submissions share a partition unless two key formats were mixed, and
``Recount.merge`` settles those across groups.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from streams.audit.recount import (
    Recount,
    confirmation_times,
    first_confirmation_offsets,
    invalidated_keys,
    moderation_histories,
)
from streams.audit.serve_client import ServeClient
from streams.catalogue.store import read_catalogue, window
from streams.core.heap import frozen_for_forks
from streams.core.logscan import LogRange, scan, whole_log
from streams.core.settings import Settings
from streams.core.topicspecs import CONFIRMATIONS, MODERATIONS, SUBMITTED
from streams.rules.countries import region_of
from streams.rules.cut import Cut, HomeCut
from streams.rules.petitions import PetitionWindow

#: The region column of a rejection row: its "country" is the reason.
REJECTED = "(rejected)"
#: The region column of a petition's total rows (``total``, ``pending``).
TOTAL = "(all regions)"
#: The region column of a country's pending signatures (summed into the total row).
PENDING = "(pending)"
#: The region column of ClickHouse's signature rows per country (any status).
SIGNATURE_ROWS = "(signature rows)"
#: The source of a petition's total that its public log's newest signed head vouches for.
PUBLIC_LOG = "public log"


@dataclass(frozen=True)
class Row:
    """One number as each source shows it (``found``) and as the log gives it up to
    what that source covers (``expected``: per source, each at its own cut)."""

    petition: str
    region: str
    country: str
    expected_by_source: dict[str, int]
    found: dict[str, int]
    #: How far a number may lawfully be off: contested keys that may count here.
    leeway: int = 0

    @property
    def expected(self) -> int:
        """The log's number for the first source (the aggregate's, where it shows one)."""
        return next(iter(self.expected_by_source.values()), 0)

    @property
    def agrees(self) -> bool:
        return all(
            abs(n - self.expected_by_source[s]) <= self.leeway for s, n in self.found.items()
        )


@dataclass
class Report:
    log: LogRange
    events: int
    contested: int
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0
    #: The latest cut any count showed, which the row-level tables were compared at
    #: (None: no count said what it covers, so everything was compared with the whole
    #: log), and when the counts were read.
    cut: Cut | None = None
    read_at: datetime | None = None

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
            "cut": None if self.cut is None else json.loads(self.cut.to_json()),
            "counts_read_at": None if self.read_at is None else self.read_at.isoformat(),
            "rows": [
                {
                    "petition": r.petition,
                    "region": r.region,
                    "country": r.country,
                    "expected": r.expected,
                    "expected_by_source": r.expected_by_source,
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


def new_recount(
    settings: Settings,
    log: LogRange,
    windows: dict[str, PetitionWindow],
    signers: SignerLogs | None,
) -> Recount:
    """An empty recount of ``log`` under these settings, with these signers' events."""
    return Recount(
        windows,
        settings.hash_key,
        log.topic,
        confirmations=signers.confirmed_at if signers else {},
        invalidated=signers.invalidated if signers else set(),
        previous_keys=settings.previous_hash_keys,
        hash_key_id=settings.email_hash_key_id,
        partitions=settings.topic_partitions,
        confirmation_offsets=signers.confirmation_offsets if signers else {},
        moderation_history=signers.moderation_history if signers else {},
    )


def _recount_part(
    settings: Settings,
    log: LogRange,
    windows: dict[str, PetitionWindow],
    signers: SignerLogs | None,
) -> dict[str, Any]:
    """A part's findings, as plain data to send back to the parent process."""
    part = new_recount(settings, log, windows, signers)
    for record in scan(settings, log, _advance):
        part.add(record)
    return {name: getattr(part, name) for name in Recount.FINDINGS}


def recount_log(
    settings: Settings,
    log: LogRange,
    windows: dict[str, PetitionWindow],
    on_progress: Callable[[int], None],
    *,
    workers: int | None = None,
    signers: SignerLogs | None = None,
) -> Recount:
    """The recount of ``log``: its partitions dealt round-robin to ``workers``
    processes (default: one per core), merged here. ``signers``: the confirmations
    and moderations to apply (``signer_logs_in``; none when not given)."""
    partitions = sorted(log.offsets)
    workers = max(1, min(workers or os.cpu_count() or 1, len(partitions)))
    groups = [partitions[i::workers] for i in range(workers)]
    context = multiprocessing.get_context("fork")
    counter = context.Value("q", 0)

    def fresh() -> Recount:
        return new_recount(settings, log, windows, signers)

    total = fresh()
    with (
        frozen_for_forks(),
        ProcessPoolExecutor(
            workers, mp_context=context, initializer=_share_progress, initargs=(counter,)
        ) as pool,
    ):
        futures = [
            pool.submit(_recount_part, settings, log.only(g), windows, signers) for g in groups
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


@dataclass
class SignerLogs:
    """What signatures.confirmations and .moderations hold, as a recount needs it."""

    confirmations: LogRange
    moderations: LogRange
    confirmed_at: dict[bytes, float]
    confirmation_offsets: dict[bytes, int]
    invalidated: set[bytes]
    moderation_history: dict[bytes, list[tuple[int, bool]]]


def signer_logs_in(settings: Settings) -> SignerLogs:
    """Every signer's confirmations and moderations, as the topics stand."""
    confirmations = whole_log(settings, CONFIRMATIONS.name)
    moderations = whole_log(settings, MODERATIONS.name)
    confirmed = list(scan(settings, confirmations))
    moderated = list(scan(settings, moderations))
    return SignerLogs(
        confirmations,
        moderations,
        confirmation_times(confirmed),
        first_confirmation_offsets(confirmed),
        invalidated_keys(moderated),
        moderation_histories(moderated),
    )


def petition_windows(settings: Settings) -> dict[str, PetitionWindow]:
    return {pid: window(p) for pid, p in read_catalogue(settings).items()}


# -- what Countersign shows -----------------------------------------------------------
RowKey = tuple[str, str, str]
#: Each row's number per source, and the cut the number covers (None: not known).
Found = dict[RowKey, dict[str, tuple[int, Cut | None]]]


@dataclass
class Shown:
    """What Countersign showed: the aggregate's totals and the API's numbers, each with
    the cut it covers, and when they were read."""

    found: Found
    read_at: datetime
    #: Per petition, the count its public log's newest signed head vouches for (only
    #: with the logs on; 0 before its first head). A head says nothing of the cut it
    #: covers, so it is compared with the whole log, read again while settling.
    logs: dict[str, int] = field(default_factory=dict)

    def latest_cut(self) -> Cut | None:
        """Per home partition, the latest cut any number showed (a home's cuts only
        grow): where the row-level tables are compared."""
        latest: dict[int, HomeCut] = {}
        for sources in self.found.values():
            for _, cut in sources.values():
                for home, home_cut in (cut.homes if cut else {}).items():
                    if home not in latest or home_cut.extent > latest[home].extent:
                        latest[home] = home_cut
        return Cut(latest) if latest else None

    def refreshed(self, newer: Shown, within: Callable[[Cut], bool]) -> Shown:
        """These numbers updated with ``newer`` ones wherever those lie ``within`` the
        recounted log (or say nothing of what they cover): a number the sink had not
        written at the first read, or a cut the log read after it holds."""
        found: Found = {key: dict(sources) for key, sources in self.found.items()}
        for key, sources in newer.found.items():
            for source, (n, cut) in sources.items():
                if cut is None or within(cut):
                    found.setdefault(key, {})[source] = (n, cut)
        return Shown(found, newer.read_at, self.logs | newer.logs)

    def petition_cuts(self) -> dict[str, Cut]:
        """Per petition, the latest cut of its rows: a count it does not show (a
        country not published yet) is 0 there."""
        cuts: dict[str, Cut] = {}
        for (petition, _, _), sources in self.found.items():
            for _, cut in sources.values():
                if cut is not None and (petition not in cuts or cut.extent > cuts[petition].extent):
                    cuts[petition] = cut
        return cuts


def covered(cut: Cut, log: LogRange, signers: SignerLogs) -> bool:
    """Whether a recount of ``log`` with these confirmations and moderations holds
    everything ``cut`` covers."""
    for home, home_cut in cut.homes.items():
        for partition, position in home_cut.submitted.items():
            if position > (log.offsets.get(partition, (0, 0))[1], 0):
                return False
        if home_cut.confirmations > signers.confirmations.offsets.get(home, (0, 0))[1]:
            return False
        if home_cut.moderations > signers.moderations.offsets.get(home, (0, 0))[1]:
            return False
    return True


def _cut(raw: Any) -> Cut | None:
    """A cut as the server gave it (JSON text or already parsed); None when unknown."""
    if not raw:
        return None
    return Cut.from_json(raw if isinstance(raw, str) else json.dumps(raw))


def read_shown(client: ServeClient, petitions: list[str], *, public_logs: bool = False) -> Shown:
    """The aggregate's totals and the API's counted numbers, each with its cut; and
    with ``public_logs``, the count each petition's newest signed head vouches for."""
    found: Found = {}
    read_at = datetime.now(UTC)
    for petition, region, country, n, waiting, cut_text in client.get("/counts")["aggregate"]:
        cut = _cut(cut_text)
        found.setdefault((petition, region, country), {})["regional_counts"] = (n, cut)
        found.setdefault((petition, PENDING, country), {})["regional_counts"] = (waiting, cut)
    for petition in petitions:
        api = client.get(f"/api/petitions/{petition}/counts?cut=1", ops=False)
        cuts = api.get("cut", {})
        for country, n in api["by_country"].items():
            found.setdefault((petition, region_of(country), country), {})["api"] = (
                n,
                _cut(cuts.get(country)),
            )
    logs: dict[str, int] = {}
    for petition in petitions if public_logs else []:
        head = client.get_if_found(f"/api/petitions/{petition}/log/head", ops=False)
        logs[petition] = 0 if head is None else head["signatures"]
    return Shown(found, read_at, logs)


def read_row_level(client: ServeClient, cut: Cut | None) -> dict[RowKey, int]:
    """ClickHouse's signature rows per (petition, country) and rejections per reason:
    those ``cut`` covers, or all of them when no count said what it covers."""
    rows: dict[RowKey, int] = {}
    if cut is None:
        tables = client.get("/counts")
        signature_rows = [(p, c, n + waiting) for p, _, c, n, waiting in tables["recount"]]
    else:
        tables = client.post("/counts-at", json.loads(cut.to_json()))
        signature_rows = [(p, c, n) for p, _, c, n in tables["signatures"]]
    for petition, country, n in signature_rows:
        rows[(petition, SIGNATURE_ROWS, country)] = n
    for petition, reason, n in tables["rejected"]:
        rows[(petition, REJECTED, reason)] = n
    return rows


# -- the comparison --------------------------------------------------------------------
def compare(
    recount: Recount, shown: Shown, row_level: dict[RowKey, int], cut: Cut | None
) -> list[Row]:
    """A row for every number either side has (a missing number is 0). Each source's
    number is compared with the log up to the cut that number covers, or the whole
    log when it does not say: counts per (petition, country), and their petition's
    total and pending; ClickHouse's signature rows and rejections at ``cut``."""
    counted = recount.counts()
    pending = recount.pending_by_country()
    petition_cuts = shown.petition_cuts()
    leeway = recount.leeway()
    for (petition, reason), n in recount.close_calls.items():
        leeway[(petition, REJECTED, reason)] += n

    def from_log(key: RowKey, at: Cut | None) -> int:
        petition, region, country = key
        if at is None:
            return pending[(petition, country)] if region == PENDING else counted[key]
        return recount.row_at(petition, country, at)[1 if region == PENDING else 0]

    keys = set(shown.found) | set(counted) | {(p, PENDING, c) for p, c in pending}
    rows: list[Row] = []
    totals: dict[RowKey, tuple[Counter[str], Counter[str]]] = {}
    for key in sorted(keys):
        petition, region, country = key
        sources = shown.found.get(key) or {"regional_counts": (0, petition_cuts.get(petition))}
        expected = {source: from_log(key, at) for source, (_, at) in sources.items()}
        found = {source: n for source, (n, _) in sources.items()}
        total = (petition, TOTAL, "pending" if region == PENDING else "total")
        sums = totals.setdefault(total, (Counter(), Counter()))
        sums[0].update(expected)
        sums[1].update(found)
        if region != PENDING or any(expected.values()) or any(found.values()):
            rows.append(Row(petition, region, country, expected, found, leeway[key]))
    for petition, n in shown.logs.items():
        sums = totals.setdefault((petition, TOTAL, "total"), (Counter(), Counter()))
        sums[0][PUBLIC_LOG] = sum(c for (p, _, _), c in counted.items() if p == petition)
        sums[1][PUBLIC_LOG] = n
    rows += [Row(*key, dict(e), dict(f)) for key, (e, f) in sorted(totals.items())]

    if cut is not None:  # every signature row the cut covers, whatever its status
        winners, rejected = recount.winners_at(cut), recount.rejected_at(cut)
    else:  # ClickHouse's count of the rows: counted and pending ones
        winners = counted + Counter({(p, region_of(c), c): n for (p, c), n in pending.items()})
        rejected = recount.rejected
    expected_rows = {(p, SIGNATURE_ROWS, c): n for (p, _, c), n in winners.items()}
    expected_rows |= {(p, REJECTED, reason): n for (p, reason), n in rejected.items()}
    for key in sorted(set(expected_rows) | set(row_level)):
        petition, region, country = key
        source = "rejections" if region == REJECTED else "signatures"
        lawful = leeway[key if region == REJECTED else (petition, region_of(country), country)]
        expected_n, found_n = expected_rows.get(key, 0), row_level.get(key, 0)
        rows.append(Row(*key, {source: expected_n}, {source: found_n}, lawful))
    return rows


def reconcile(
    settings: Settings,
    *,
    petition: str | None,
    settle_seconds: float,
    public_logs: bool = False,
    on_start: Callable[[LogRange], None],
    on_progress: Callable[[int], None],
    on_waiting: Callable[[int], None],
) -> Report:
    """Read what Countersign shows, each number with the cut it covers; then recount the
    log as it stands (so it holds every cut) and compare each number with the log up
    to its own cut. ClickHouse's row-level tables are compared at the latest cut, read
    again until they agree or ``settle_seconds`` pass (the sink may still be writing
    what the cut covers). Numbers that do not say what they cover (written before
    cuts existed) are compared with the whole log, read again while settling."""
    started = time.monotonic()
    client = ServeClient(settings)
    windows = petition_windows(settings)
    shown = read_shown(client, sorted(windows), public_logs=public_logs)
    cut = shown.latest_cut()
    log = whole_log(settings, SUBMITTED.name)
    on_start(log)
    signers = signer_logs_in(settings)
    recount = recount_log(settings, log, windows, on_progress, signers=signers)
    deadline = time.monotonic() + settle_seconds

    def within(at: Cut) -> bool:
        return covered(at, log, signers)

    while True:
        rows = compare(recount, shown, read_row_level(client, cut), cut)
        if petition is not None:
            rows = [row for row in rows if row.petition == petition]
        report = Report(log, recount.events, len(recount.contested), rows, cut=cut)
        report.read_at = shown.read_at
        if not report.differences or time.monotonic() >= deadline:
            break
        on_waiting(len(report.differences))
        time.sleep(2)
        newer = read_shown(client, sorted(windows), public_logs=public_logs)
        shown = shown.refreshed(newer, within)
        cut = shown.latest_cut()
    report.seconds = time.monotonic() - started
    return report
