"""The audit commands: ``reconcile``, ``replay``, ``rebuild``, ``trace``, ``export``
and ``verify-export``.

Exit codes, as the README's Audits section promises: 0 when everything is as
expected, 1 when a difference is found, 2 on an error (``streams.cli.tools``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from streams.audit.reconcile import PUBLIC_LOG, TOTAL, Report, Row, reconcile
from streams.audit.replay import (
    ReplayPipeline,
    compare,
    copy_log,
    log_range,
    namespace,
    parse_bound,
)
from streams.audit.serve_client import ServeClient
from streams.audit.trace import Trace, Wanted, trace
from streams.catalogue.store import read_catalogue
from streams.cli.tools import console, errors, tool
from streams.core.errors import CountersignError, ExportInvalid
from streams.core.logscan import LogRange
from streams.core.settings import Settings
from streams.rules.cut import Cut

FORMAT = click.option(
    "--format",
    "output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="How to print the result (json: for scripts).",
)


def progress_bar() -> Progress:
    """A bar with a count and an ETA, on stderr so ``--format json`` stays clean."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=errors,
        transient=False,
    )


class LogBar:
    """A bar over a range of the log, added once the range (its size) is known."""

    def __init__(self, progress: Progress, description: str) -> None:
        self.progress = progress
        self.description = description
        self.task: TaskID | None = None

    def started(self, log: LogRange) -> None:
        self.task = self.progress.add_task(self.description, total=log.records)

    def advanced(self, records: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, records)


@click.command()
@click.option("--petition", help="Only this petition's rows (the whole log is read anyway).")
@click.option(
    "--settle",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to read the counts again (the sink may still be writing up to the cut) "
    "before a difference counts.",
)
@click.option("--all", "show_all", is_flag=True, help="Print agreeing rows too.")
@click.option(
    "--public-logs",
    is_flag=True,
    help="Also compare each petition's total with the count its newest signed head vouches "
    "for (exact once the petition's traffic stopped: a head covers no cut yet).",
)
@FORMAT
@tool
def reconcile_command(  # noqa: PLR0917
    settings: Settings,
    petition: str | None,
    settle: float,
    show_all: bool,
    public_logs: bool,
    output: str,
) -> None:
    """Recount every signature from the audit log and compare with what is shown.

    \b
    countersign reconcile                       # every petition; exit 0 if all agree
    countersign reconcile --petition syria-icc --format json

    Reads the counts first, each with the log positions it covers (its cut), then
    signatures.submitted from its start to its end, applies the rules as one batch
    (first valid submission per email and petition wins, in log order) and compares
    each count with the log up to its own cut: ClickHouse's regional_counts (the
    dashboard's numbers) and the JSON API; ClickHouse's signature rows and rejections
    at the latest cut. So it agrees on a live system. With --public-logs, each
    petition's total is also compared with the count its newest signed head vouches
    for ("public log"). A head does not say what it covers yet, so that holds once a
    petition's traffic stopped (a closed petition, a quiet hour), not while it grows.
    Needs `countersign serve`
    (COUNTERSIGN_API_URL, COUNTERSIGN_OPS_TOKEN). Exit 0: all agree; 1: a difference
    (printed); 2: error.
    """
    with progress_bar() as progress:
        bar = LogBar(progress, "recounting the log")

        def waiting(differences: int) -> None:
            progress.console.print(
                f"{differences} numbers differ; waiting for the pipeline (--settle {settle:g} s)"
            )

        if public_logs and not settings.transparency_log:
            raise click.UsageError(
                "--public-logs: the public logs are off here (COUNTERSIGN_TRANSPARENCY_LOG)"
            )
        report = reconcile(
            settings,
            petition=petition,
            settle_seconds=settle,
            public_logs=public_logs,
            on_start=bar.started,
            on_progress=bar.advanced,
            on_waiting=waiting,
        )
    if output == "json":
        console.print_json(json.dumps(report.as_json()))
    else:
        print_report(report, show_all)
    sys.exit(1 if report.differences else 0)


def print_report(report: Report, show_all: bool) -> None:
    rows = report.rows if show_all else report.differences
    if rows:
        sources = sorted({s for row in rows for s in row.found}, key=_source_order)
        table = Table("petition", "region", "country", "expected", *sources, title=None)
        for row in rows:
            cells = [_cell(row, s) for s in sources]
            table.add_row(row.petition, row.region, row.country, str(row.expected), *cells)
        console.print(table)
    if report.cut is not None and report.read_at is not None:
        console.print(
            f"compared at the cut of the counts read at {report.read_at:%H:%M:%S} UTC "
            f"(signatures.submitted, per home partition: {_describe(report.cut)})"
        )
    counted = sum(r.expected for r in report.rows if (r.region, r.country) == (TOTAL, "total"))
    console.print(
        f"{report.events:,} events in {report.log.describe()}: {counted:,} signatures, "
        f"{len(report.rows):,} numbers compared in {report.seconds:.1f} s"
    )
    if report.contested:
        console.print(
            f"[yellow]{report.contested} dedupe keys have submissions in more than one "
            "partition (two key formats); their country follows the pipeline's read order[/]"
        )
    if report.differences:
        n = len(report.differences)
        console.print(
            f"[red]{n} {'number differs' if n == 1 else 'numbers differ'} from the log[/]"
        )
    else:
        console.print("[green]every number agrees with the log[/]")


def _cell(row: Row, source: str) -> str:
    """A source's number; in red with the log's number for it where they differ."""
    if source not in row.found:
        return ""
    found, expected = row.found[source], row.expected_by_source[source]
    if abs(found - expected) <= row.leeway:
        return str(found)
    return f"[red]{found}[/] (log: {expected})" if expected != row.expected else f"[red]{found}[/]"


def _describe(cut: Cut) -> str:
    """``home 0: 0@1234 1@56 …`` (partition@offset of the next submission not covered)."""
    return "; ".join(
        f"home {home}: " + " ".join(f"{p}@{o}" for p, (o, _) in sorted(c.submitted.items()))
        for home, c in sorted(cut.homes.items())
    )


def _source_order(source: str) -> int:
    order = ["regional_counts", "signatures", "rejections", "api", PUBLIC_LOG]
    return order.index(source) if source in order else len(order)


@click.command()
@click.option("--timeout", type=float, default=3600, show_default=True, help="Seconds to wait.")
@FORMAT
@tool
def rebuild_command(settings: Settings, timeout: float, output: str) -> None:
    """Rebuild the ClickHouse tables from the Kafka topics, live traffic and all.

    \b
    countersign rebuild && countersign reconcile

    `countersign serve` copies every output topic into shadow tables, holds its
    sink between two batches for the last stretch, swaps the shadow tables in
    (EXCHANGE TABLES) and lets the sink go on: nothing in Kafka is lost or counted
    twice, and a failed or interrupted rebuild leaves the live tables untouched.
    Exit 0: rebuilt; 2: failed (the reason is printed).
    """
    client = ServeClient(settings)
    status = client.post("/rebuild", {})
    started, deadline = status["started_at"], time.monotonic() + timeout
    with progress_bar() as progress:
        task = progress.add_task("copying the topics into shadow tables", total=None)
        while status["state"] not in ("done", "failed"):
            time.sleep(0.5)
            status = client.get("/rebuild")
            if status["started_at"] != started:  # serve restarted: the rebuild is gone
                raise CountersignError(
                    "countersign serve restarted during the rebuild; run it again"
                )
            if time.monotonic() > deadline:
                raise CountersignError(
                    f"the rebuild did not end in {timeout:g} s; it goes on in serve"
                )
            progress.update(
                task,
                total=status["records_total"] or None,
                completed=status["records_done"],
                description=status["state"],
            )
    if output == "json":
        console.print_json(json.dumps(status))
    if status["state"] == "failed":
        raise CountersignError(f"rebuild failed, the live tables are untouched: {status['error']}")
    if output == "table":
        console.print(
            f"rebuilt: {status['rows']:,} rows from {status['records_total']:,} records "
            f"({', '.join(status['log_ranges'])})"
        )


@click.command()
@click.argument("signature_id", required=False)
@click.option("--petition", help="With --email: the petition signed.")
@click.option("--email", help="With --petition: the address (hashed here; never sent or logged).")
@FORMAT
@tool
def trace_command(
    settings: Settings,
    signature_id: str | None,
    petition: str | None,
    email: str | None,
    output: str,
) -> None:
    """Show one signature's path: log position, verdict, dedupe winner, counts.

    \b
    countersign trace 0b6f0c1e-...                       # by signature id
    countersign trace --petition syria-icc --email ana@example.org

    Scans signatures.submitted for the submissions it names (an address matches
    every spelling of the same mailbox), judges each with the rules at the time
    Kafka logged it, and shows what the pipeline recorded for it in ClickHouse:
    its rejection (reason and detail), or the signature row that won its dedupe
    key, and that winner's country count. Exit 0: found and every verdict
    agrees; 1: not found, or a recorded verdict differs; 2: error.
    """
    if (signature_id is None) == (petition is None or email is None):
        raise click.UsageError("give a SIGNATURE_ID, or --petition and --email")
    hash_key = settings.hash_key
    wanted = (
        Wanted(signature_id=signature_id)
        if signature_id is not None
        else Wanted.email(str(petition), str(email), hash_key)
    )
    with progress_bar() as progress:
        bar = LogBar(progress, "searching the log")
        result = trace(settings, wanted, bar.started, bar.advanced)
    if output == "json":
        console.print_json(json.dumps(result.as_json(), default=str))
    else:
        print_trace(result)
    sys.exit(0 if result.steps and all(s.agrees for s in result.steps) else 1)


def print_trace(result: Trace) -> None:
    if not result.steps:
        console.print(f"[red]no such submission in {result.log.describe()}[/]")
        return
    table = Table("log position", "logged at", "signature id", "rules say", "pipeline recorded")
    for step in result.steps:
        p = step.position
        rules = step.verdict + (f"\n[dim]{step.detail}[/]" if step.detail else "")
        recorded = step.recorded + (
            f"\n[dim]{step.recorded_detail}[/]" if step.recorded_detail else ""
        )
        if not step.agrees:
            recorded = f"[red]{recorded}[/]"
        table.add_row(
            f"{p.topic} {p.partition}/{p.offset}#{p.index}",
            step.logged_at.isoformat(timespec="milliseconds"),
            step.signature_id,
            rules,
            recorded,
        )
    console.print(table)
    winner = result.winner
    if winner is None:
        console.print("not counted: no signature of this email won its petition")
        return
    console.print(
        f"winner: {winner['signature_id']} at {winner['source_topic']} "
        f"{winner['source_partition']}/{winner['source_offset']}#{winner['source_index']}, "
        f"{winner['country']} ({winner['region']}); in ClickHouse since {winner['accepted_at']}"
    )
    console.print(
        f"counted: once, in {winner['petition_id']} / {winner['country']}, whose count the API "
        f"shows as {result.country_count:,}"
    )


@click.command()
@click.argument("petition_id")
@click.option(
    "--format",
    "kind",
    type=click.Choice(["pdf", "csv"]),
    default="pdf",
    show_default=True,
    help="pdf: laid out for print, with a hash chain; csv: number, name, country.",
)
@click.option(
    "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True
)
@tool
def export_command(settings: Settings, petition_id: str, kind: str, output: Path) -> None:
    """Write the delivery list: signers who agreed to publication, in order.

    \b
    countersign export syria-icc --format pdf --output syria-icc.pdf
    countersign verify-export syria-icc.pdf

    Names and countries come from ClickHouse through `countersign serve`, in
    submission order. The PDF has a cover (title, total, counts by region, when it
    was made, the part of the audit log it covers), numbered pages of 100 names
    in every script (Debian's Noto fonts, HarfBuzz shaping) and, in each footer, a
    hash chained from the previous page's. A sealed name (docs/privacy.md) is
    opened with its signer's key; an erased one is left out, and the cover says
    how many. When the petition's retention policy shreds its names within a
    week (or did), a warning says so. Exit 0: written; 2: error.
    """
    from streams.audit.export import delivery_list, write_csv  # noqa: PLC0415  (pypdf)

    with progress_bar() as progress:
        rows = progress.add_task("reading the signers", total=None)
        delivery = delivery_list(settings, petition_id, lambda n: progress.advance(rows, n))
        progress.update(rows, total=delivery.cover.total, completed=delivery.cover.total)
        if kind == "csv":
            write_csv(delivery, output)
        else:
            from streams.audit.pdf import render  # noqa: PLC0415  (fpdf2 for PDFs only)

            pages = progress.add_task("laying out pages", total=len(delivery.pages))
            output.write_bytes(
                render(
                    delivery.cover,
                    delivery.pages,
                    delivery.hashes,
                    delivery.created,
                    lambda: progress.advance(pages),
                )
            )
    size = output.stat().st_size
    console.print(
        f"{output}: {delivery.cover.total:,} names, {len(delivery.pages):,} pages"
        + (" and a cover" if kind == "pdf" else "")
        + f", {size / 1e6:.1f} MB; chain ends in {delivery.hashes[-1]}"
    )
    if delivery.cover.erased:
        console.print(
            f"left out: {delivery.cover.erased:,} names erased, at their signers' request or "
            "by the petition's retention policy (their signatures still count)"
        )
    if delivery.retention_warning:
        errors.print(f"[yellow]warning:[/] {delivery.retention_warning}")


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--expect-chain",
    metavar="HASH",
    help="The chain's end as published apart from the file (export prints it).",
)
@FORMAT
@tool
def verify_export_command(
    settings: Settings, file: Path, expect_chain: str | None, output: str
) -> None:
    """Check a delivery PDF page by page; name the first bad page.

    \b
    countersign verify-export syria-icc.pdf

    Three checks: the list the PDF carries (an attachment) against its own hash
    chain; each page's printed footer hash against the chain (a page removed,
    moved or replaced); each page's printed content against a fresh rendering of
    its list (a name changed on the page). Anyone can re-make a whole file; give
    --expect-chain, the chain's end published apart from it, to rule that out.
    Exit 0: intact; 1: a bad page; 2: error (e.g. another fpdf2 version).
    """
    from pypdf.errors import PdfReadError  # noqa: PLC0415  (PDF libraries for PDFs only)

    from streams.audit.export import verify  # noqa: PLC0415

    try:
        with progress_bar() as progress:
            task = progress.add_task("checking pages", total=None)
            result = verify(file, lambda: progress.advance(task), expect_chain)
    except (ValueError, PdfReadError) as exc:
        raise ExportInvalid(f"{file}: {exc}") from exc
    if output == "json":
        console.print_json(
            json.dumps(
                {
                    "pages": result.pages,
                    "first_bad_page": result.first_bad,
                    "problems": result.problems,
                }
            )
        )
    elif result.first_bad is None:
        console.print(f"[green]{file}: all {result.pages} pages intact[/]")
    else:
        console.print(f"[red]{file}: page {result.first_bad} is the first bad page[/]")
        for problem in result.problems:
            console.print(f"  {problem}")
    sys.exit(0 if result.first_bad is None else 1)


@click.command()
@click.option(
    "--from", "start", help="First offset (every partition) or ISO time; default: the start."
)
@click.option("--to", "end", help="Offset or ISO time to stop before; default: the end as of now.")
@click.option("--into", "name", required=True, help="The namespace: letters, digits, - and _.")
@click.option(
    "--timeout", type=float, default=3600, show_default=True, help="Seconds to wait for the count."
)
@FORMAT
@tool
def replay_command(  # noqa: PLR0917  (click passes options positionally)
    settings: Settings, start: str | None, end: str | None, name: str, timeout: float, output: str
) -> None:
    """Re-run the pipeline over a range of the log, apart; compare with live.

    \b
    countersign replay --from 0 --into audit-2026-12     # the whole log
    countersign replay --from 2026-12-01T00:00:00Z --to 2026-12-02T00:00:00Z --into day1

    Copies the range of signatures.submitted (keys, values, log times), the
    catalogue, and every confirmation and moderation so far into topics under the
    prefix `<prefix>replay.NAME.`, starts a worker
    and a serve process of that namespace (their own consumer groups, data
    directory and ClickHouse database), waits until they have counted it all, and
    prints the replay's counts next to the live ones. The live pipeline is only
    read. Exit 0: the same; 1: they differ (expected for a partial range); 2: error.
    Where a petition asks for confirmation, its duplicates may differ (a re-sign
    before or after its signer confirmed); its counts may not. For a replay from the
    log's start, the live numbers are taken as of the replay's end (each carries the
    log positions it covers; the log in between is recounted), so traffic that went
    on meanwhile is no difference.
    """
    replay = namespace(settings, name)
    source = log_range(settings, parse_bound(start), parse_bound(end))
    with progress_bar() as progress:
        copying = progress.add_task(
            f"copying {source.topic} into {replay.topic_prefix}", total=source.records
        )
        copied = copy_log(settings, replay, source, lambda n: progress.advance(copying, n))
        with ReplayPipeline(replay) as pipeline:
            counting = progress.add_task("the replay counting (records left)", total=None)
            pipeline.wait_until_counted(
                timeout, lambda lag: progress.update(counting, completed=lag)
            )
            recounting = progress.add_task("recounting the live log", total=None)
            comparisons = compare(
                settings,
                pipeline,
                sorted(read_catalogue(settings)),
                copied,
                lambda n: progress.advance(recounting, n),
            )
    if output == "json":
        console.print_json(
            json.dumps(
                {
                    "range": source.describe(),
                    "namespace": replay.topic_prefix,
                    "petitions": [
                        {
                            "petition": c.petition,
                            "live": c.live,
                            "live_as_shown": c.shown,
                            "replay": c.replayed,
                            "agrees": c.agrees,
                        }
                        for c in comparisons
                    ],
                }
            )
        )
    else:
        table = Table("petition", "live total", "replay total", "countries that differ", "same")
        for c in comparisons:
            differ = sorted(
                k
                for k in set(c.live["by_country"]) | set(c.replayed["by_country"])
                if c.live["by_country"].get(k) != c.replayed["by_country"].get(k)
            )
            table.add_row(
                c.petition,
                f"{c.live['total']:,}",
                f"{c.replayed['total']:,}",
                ", ".join(differ) or "-",
                "[green]yes[/]" if c.agrees else "[red]no[/]",
            )
        console.print(table)
        console.print(
            f"replayed {source.describe()} into {replay.topic_prefix} ({replay.data_dir})"
        )
        moved = [c.petition for c in comparisons if c.shown is not None and c.live is not c.shown]
        if moved:
            console.print(
                "live numbers as of the replay's end: each live count's cut, and the log "
                "between it and the replay's end recounted (--format json: live_as_shown)"
            )
    sys.exit(0 if all(c.agrees for c in comparisons) else 1)
