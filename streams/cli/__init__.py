"""The ``countersign`` command: a plain click group.

Every command runs in the foreground (``streams.cli.tools.tool``) and loads only what
it runs: ``countersign intake`` never imports Faust, Kafka's asyncio client or
ClickHouse. ``countersign worker`` alone hands over to Faust's own command line
(streams/worker/main.py). Each command's docstring is its ``--help``; its first line
is the summary that ``countersign --help`` lists.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click
from pydantic import ValidationError
from rich.table import Table

from streams.catalogue.store import (
    MAX_RETAIN_NAMES_DAYS,
    Petition,
    confirmation_of,
    new_petition,
    parse_time,
    petition_from_file,
    publish_petition,
    read_catalogue,
)
from streams.cli.audit import (
    export_command,
    rebuild_command,
    reconcile_command,
    replay_command,
    trace_command,
    verify_export_command,
)
from streams.cli.moderation import (
    invalidate_command,
    moderations_command,
    reinstate_command,
    sources_command,
)
from streams.cli.privacy import erase_command, retention_command
from streams.cli.simulate import simulate
from streams.cli.tools import console, errors, tool
from streams.cli.transparency import (
    audit_log_command,
    new_log_key_command,
    verify_receipt_command,
)
from streams.core.errors import CatalogueError, CountersignError
from streams.core.redact import redact_dsn
from streams.core.settings import Settings
from streams.core.topics import create_topics, describe_topics
from streams.core.topicspecs import ALL_TOPICS, Retention
from streams.rules.petitions import Confirmation
from streams.rules.retention import shred_at

HELP = """Countersign: exact, live, auditable petition signature counts.

Kafka topics in, Faust agents in the middle, ClickHouse and a live dashboard out.
Configuration comes from COUNTERSIGN_* environment variables (see README.md).
"""


@click.group(help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    pass


cli.add_command(simulate)
cli.add_command(reconcile_command, name="reconcile")
cli.add_command(rebuild_command, name="rebuild")
cli.add_command(replay_command, name="replay")
cli.add_command(trace_command, name="trace")
cli.add_command(export_command, name="export")
cli.add_command(verify_export_command, name="verify-export")
cli.add_command(verify_receipt_command, name="verify-receipt")
cli.add_command(audit_log_command, name="audit-log")
cli.add_command(new_log_key_command, name="new-log-key")
cli.add_command(sources_command, name="sources")
cli.add_command(invalidate_command, name="invalidate")
cli.add_command(reinstate_command, name="reinstate")
cli.add_command(erase_command, name="erase")
cli.add_command(retention_command, name="retention")
cli.add_command(moderations_command, name="moderations")


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("faust_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def worker(settings: Settings, faust_args: tuple[str, ...]) -> None:
    """Run the Faust worker (validate, dedupe, aggregate).

    Everything after `worker` goes to Faust's own `worker` command
    (`countersign worker --help` shows its options). Health and the agents' metrics
    are on COUNTERSIGN_WORKER_PORT (6067).
    """
    from streams.worker.main import run_worker  # noqa: PLC0415  (only this command loads Faust)

    try:
        run_worker(settings, list(faust_args))
    except CountersignError as exc:  # refused before it started (Faust has its own)
        errors.print(f"[red]countersign: {exc}[/]")
        sys.exit(2)


def _retention_label(retention: Retention, retention_ms: str | None) -> str:
    if retention is Retention.COMPACTED:
        return "compacted"
    if retention_ms in (None, "-1"):
        return "forever"
    return f"{int(retention_ms) / 86_400_000:g} days"


@cli.command()
@click.argument("action", type=click.Choice(["create", "describe", "manifest"]))
@tool
def topics(settings: Settings, action: str) -> None:
    """Create or describe the pipeline's Kafka topics.

    `topics create` creates (idempotently) every pipeline topic that is missing, with its
    partitions, replication, cleanup policy and retention, under the configured
    prefix; running it again changes nothing. `topics describe` prints them.
    `topics manifest` prints them as JSON for a topic operator, without asking Kafka:
    the Helm chart's KafkaTopics come from it
    (`COUNTERSIGN_TOPIC_REPLICATION_FACTOR=3 countersign topics manifest >
    deploy/helm/countersign/files/topics.json`).
    """
    if action == "manifest":
        manifest = [{"name": spec.name, "config": spec.config(settings)} for spec in ALL_TOPICS]
        click.echo(json.dumps({"topics": manifest}, indent=2))
        return
    if action == "create":
        for name, outcome in create_topics(settings).items():
            console.print(f"{outcome:>8}  {name}")
        return
    table = Table(title=f"Topics on {redact_dsn(settings.kafka_bootstrap_servers)}")
    for column in ("topic", "key", "value", "partitions", "RF", "retention"):
        table.add_column(column, no_wrap=column == "topic")
    for topic in describe_topics(settings):
        if topic.partitions is None:
            table.add_row(topic.name, topic.spec.key, topic.spec.value, "[red]missing[/]")
            continue
        table.add_row(
            topic.name,
            topic.spec.key,
            topic.spec.value,
            str(topic.partitions),
            str(topic.replication_factor),
            _retention_label(topic.spec.retention, topic.config.get("retention.ms")),
        )
    console.print(table)


@cli.command()
@click.option("--port", type=int, help="Listen here (default COUNTERSIGN_INTAKE_PORT, 8080).")
@tool
async def intake(settings: Settings, port: int | None) -> None:
    """Serve the HTTP intake: the sign form and its POST endpoint.

    POST /petitions/{id}/signatures answers 202 only after Kafka acknowledged
    the event on signatures.submitted; 400 with per-field errors, 403 for a
    browser's post from a site not in COUNTERSIGN_INTAKE_CORS_ORIGINS or a form
    without its token, 408 for a body slower than COUNTERSIGN_INTAKE_BODY_TIMEOUT_SECONDS,
    413 over 16 KiB, 429 past the rate limits (COUNTERSIGN_INTAKE_RATE_LIMITS, per
    client and petition; an IPv6 client is its /64), 503/504 with Retry-After when
    Kafka cannot take or confirm it. An identical resend within
    COUNTERSIGN_INTAKE_RESEND_WINDOW_SECONDS is answered without publishing again.
    X-Forwarded-For is believed only from COUNTERSIGN_INTAKE_TRUSTED_PROXIES.
    Under load, submissions for one partition share a record (about
    COUNTERSIGN_INTAKE_COALESCE_TARGET of them, waiting at most
    COUNTERSIGN_INTAKE_COALESCE_MS); a quiet one goes out at once. SIGTERM or Ctrl-C
    finish the requests in flight and flush Kafka before exiting.
    """
    from streams.intake.app import serve as serve_intake  # noqa: PLC0415

    if port is not None:
        settings = settings.model_copy(update={"intake_port": port})
    await serve_intake(settings)


@cli.command()
@click.option("--port", type=int, help="Listen here (default COUNTERSIGN_API_PORT, 6066).")
@tool
async def serve(settings: Settings, port: int | None) -> None:
    """Run the ClickHouse sink and serve the dashboard and API, in one process.

    The embedded default (COUNTERSIGN_CLICKHOUSE_DSN: the chdb:// engine under the
    data directory, which one process opens at a time): it applies the migrations,
    writes the pipeline's output topics into ClickHouse and serves /,
    /api/petitions/..., /ops, /healthz and /metrics. Run it beside `countersign
    worker`. Past one machine, run `countersign sink` once and `countersign api` as
    often as needed against a ClickHouse server (docs/scaling.md). SIGTERM or Ctrl-C
    write the last batch first.
    """
    from streams.web.serve import serve as serve_roles  # noqa: PLC0415

    if port is not None:
        settings = settings.model_copy(update={"api_port": port})
    await serve_roles(settings)


@cli.command()
@click.option("--port", type=int, help="Listen here (default COUNTERSIGN_SINK_PORT, 6068).")
@tool
async def sink(settings: Settings, port: int | None) -> None:
    """Write the pipeline's output topics into ClickHouse; serve nothing else.

    One per ClickHouse database (COUNTERSIGN_CLICKHOUSE_DSN, COUNTERSIGN_CLICKHOUSE_DATABASE):
    it applies the migrations, writes the counts, verdicts and audit rows, and runs the
    once-per-pipeline jobs (the signer keys' ticker, the retention schedule). Its
    /healthz and /metrics are on COUNTERSIGN_SINK_PORT. SIGTERM or Ctrl-C write the
    last batch first.
    """
    from streams.web.serve import serve as serve_roles  # noqa: PLC0415

    if port is not None:
        settings = settings.model_copy(update={"sink_port": port})
    await serve_roles(settings, api=False)


@cli.command()
@click.option("--port", type=int, help="Listen here (default COUNTERSIGN_API_PORT, 6066).")
@tool
async def api(settings: Settings, port: int | None) -> None:
    """Serve the dashboard, the JSON API, the live feeds and /ops; write nothing.

    Reads a ClickHouse server (COUNTERSIGN_CLICKHOUSE_DSN=http(s)://...; a user with
    SELECT on the database is enough: docs/scaling.md) that `countersign sink` fills.
    Run as many as the viewers need; each waits until the sink has applied the
    migrations. The embedded chdb:// engine opens in one process only: there, run
    `countersign serve`.
    """
    from streams.web.serve import serve as serve_roles  # noqa: PLC0415

    if port is not None:
        settings = settings.model_copy(update={"api_port": port})
    await serve_roles(settings, sink=False)


@cli.command()
@tool
def mailer(settings: Settings) -> None:
    """Send the confirmation mails that the pipeline asks for.

    Reads mail.outbox (written when a petition with `confirmation: email` accepts a
    signature, or its signer signs again while pending) and sends each mail over
    SMTP (COUNTERSIGN_SMTP_URL; Mailpit on 127.0.0.1:1025 under `make run`). An
    offset is committed only after its mail went out, every COUNTERSIGN_MAILER_BATCH
    mails: a crash loses no mail and sends at most that many twice. SIGTERM or
    Ctrl-C stop it after the mail in hand.
    """
    from streams.mailer.service import run_mailer  # noqa: PLC0415

    run_mailer(settings)


@cli.command()
@click.option(
    "--print",
    "print_only",
    is_flag=True,
    help="Print every statement of a fresh database; run none.",
)
@tool
def migrate(settings: Settings, print_only: bool) -> None:
    """Apply pending ClickHouse migrations (`serve` and `sink` do too).

    The target is COUNTERSIGN_CLICKHOUSE_DSN (default: the embedded chdb:// engine
    under the data directory, which only one process can open at a time). With
    COUNTERSIGN_CLICKHOUSE_CLUSTER, in the cluster's form: Replicated tables on every
    node and Distributed ones over them, ON CLUSTER (`--print` shows them).
    """
    from sinks.clickhouse.client import connect_with  # noqa: PLC0415
    from sinks.clickhouse.migrate import all_statements  # noqa: PLC0415
    from sinks.clickhouse.migrate import migrate as apply_migrations  # noqa: PLC0415

    if print_only:
        for statement in all_statements(settings.clickhouse_database, settings.clickhouse_cluster):
            click.echo(f"{statement};\n")
        return
    applied = apply_migrations(
        connect_with(settings), settings.clickhouse_database, settings.clickhouse_cluster
    )
    for migration in applied:
        console.print(f"applied {migration.version:04d}_{migration.name}")
    console.print(
        f"{redact_dsn(settings.clickhouse_target)}: {len(applied)} migrations applied now"
    )


@cli.command()
@click.argument("action", type=click.Choice(["add", "list", "close"]))
@click.argument("petition_id", required=False)
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False),
    help="add: a petition JSON file (see deploy/petitions/).",
)
@click.option("--title", help="add: the petition's title.")
@click.option("--opens-at", help="add: ISO time the signing window opens (default now).")
@click.option("--closes-at", help="add: ISO time it closes (exclusive); close: when.")
@click.option(
    "--threshold",
    "thresholds",
    type=int,
    multiple=True,
    help="add: a signature count worth celebrating (repeatable).",
)
@click.option(
    "--confirmation",
    type=click.Choice([c.value for c in Confirmation]),
    help="add: `email` (the default): a signature counts once its signer follows the "
    "link mailed to them; `none`: it counts when accepted. Overrides the file's.",
)
@click.option(
    "--retain-names-days",
    type=click.IntRange(0, MAX_RETAIN_NAMES_DAYS),
    help="add: shred signers' names and addresses this many days after the petition "
    "closes; the counts stay (docs/privacy.md). Default: kept until erased.",
)
@tool
def petitions(  # noqa: PLR0917  (click passes options positionally)
    settings: Settings,
    action: str,
    petition_id: str | None,
    file: str | None,
    title: str | None,
    opens_at: str | None,
    closes_at: str | None,
    thresholds: tuple[int, ...],
    confirmation: str | None,
    retain_names_days: int | None,
) -> None:
    """Add, list or close petitions in the catalogue.

    The catalogue is the `petitions` topic.

    \b
    countersign petitions add --file deploy/petitions/syria-icc.json
    countersign petitions add my-petition --title "Free them" --closes-at 2027-01-01T00:00:00Z
    countersign petitions add open-letter --title "Sign it" --confirmation none
    countersign petitions add uk-style --title "Sign" --closes-at 2027-06-01T00:00:00Z \\
        --retain-names-days 30
    countersign petitions list
    countersign petitions close my-petition [--closes-at 2026-12-31T23:59:59Z]
    """
    now = datetime.now(UTC)
    if action == "list":
        print_catalogue(read_catalogue(settings))
        return
    if action == "add":
        if file is not None:
            petition = petition_from_file(Path(file), now=now, confirmation=confirmation)
            if retain_names_days is not None:
                petition["retain_names_days"] = retain_names_days
        elif petition_id and title:
            petition = new_petition(
                petition_id,
                title,
                opens_at=opens_at or now,
                closes_at=closes_at,
                thresholds=list(thresholds),
                confirmation=confirmation or Confirmation.EMAIL,
                retain_names_days=retain_names_days,
                now=now,
            )
        else:
            raise CatalogueError("add needs --file, or a petition id and --title")
        publish_petition(settings, petition)
        console.print(
            f"added petition [bold]{petition['petition_id']}[/]: {petition['title']} "
            f"(confirmation: {confirmation_of(petition)})"
        )
        return
    if not petition_id:
        raise CatalogueError("close needs the petition id")
    existing = read_catalogue(settings).get(petition_id)
    if existing is None:
        raise CatalogueError(f"no petition {petition_id!r} in the catalogue")
    closes = parse_time(closes_at) or now
    publish_petition(settings, {**existing, "closes_at": closes, "updated_at": now})
    console.print(f"petition {petition_id} closes at {closes.isoformat()}")


def print_catalogue(catalogue: dict[str, Petition]) -> None:
    table = Table(title=f"{len(catalogue)} petitions")
    for column in ("id", "title", "opens at", "closes at", "thresholds", "names kept"):
        table.add_column(column)
    for petition in sorted(catalogue.values(), key=lambda p: p["opens_at"]):
        closes = petition["closes_at"]
        table.add_row(
            petition["petition_id"],
            petition["title"],
            petition["opens_at"].isoformat(),
            closes.isoformat() if closes else "open-ended",
            ", ".join(f"{t:,}" for t in petition["thresholds"]),
            _names_kept(petition),
        )
    console.print(table)


def _names_kept(petition: Petition) -> str:
    days = petition.get("retain_names_days")
    if days is None:
        return "until erased"
    when = shred_at(petition["closes_at"], days)
    return f"{days} days after closing" + (f" ({when:%Y-%m-%d})" if when else "")


def main() -> NoReturn:
    """Entry point of the ``countersign`` console script."""
    try:
        settings = Settings()
    except ValidationError as exc:
        errors.print(f"[red]countersign: bad configuration[/]\n{exc}")
        sys.exit(2)
    cli.main(obj=settings, prog_name="countersign")
    sys.exit(0)
