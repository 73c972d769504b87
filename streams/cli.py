"""The ``countersign`` command: Faust's own CLI (``countersign worker``) plus ours.

Our commands are short-lived tools (admin calls, replays), so they run in the
foreground through ``ToolCommand`` rather than inside a Faust worker: a
``CountersignError`` becomes one red line and exit code 1, not a traceback.
Each command's docstring is its ``--help``; its first line is the summary that
``countersign --help`` lists.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click
import faust
import mode.loop
from faust.cli.faust import cli as faust_cli
from pydantic import ValidationError
from rich.table import Table

from sinks.clickhouse.client import connect
from sinks.clickhouse.migrate import migrate as apply_migrations
from streams.agents import register_agents
from streams.app import CountersignApp, create_app
from streams.catalogue import (
    Petition,
    new_petition,
    parse_time,
    petition_from_file,
    publish_petition,
    read_catalogue,
)
from streams.errors import CatalogueError
from streams.intake.server import serve as serve_intake
from streams.serve import serve as serve_api
from streams.settings import Settings
from streams.simulate_command import register_simulate_command
from streams.toolcommand import ToolCommand, console, errors
from streams.topics import Retention, create_topics, describe_topics

HELP = """Countersign: exact, live, auditable petition signature counts.

Kafka topics in, Faust agents in the middle, ClickHouse and a live dashboard out.
Configuration comes from COUNTERSIGN_* environment variables (see README.md).
"""


def _retention_label(retention: Retention, retention_ms: str | None) -> str:
    if retention is Retention.COMPACTED:
        return "compacted"
    if retention_ms in (None, "-1"):
        return "forever"
    return f"{int(retention_ms) / 86_400_000:g} days"


def register_commands(app: faust.App) -> None:
    @app.command(
        faust.cli.argument("action", type=click.Choice(["create", "describe"])),
        base=ToolCommand,
    )
    def topics(self: ToolCommand, action: str) -> None:
        """Create (idempotently) or describe the pipeline's Kafka topics.

        `topics create` creates every topic of ARCHITECTURE.md that is missing, with its
        partitions, replication, cleanup policy and retention, under the configured
        prefix; running it again changes nothing. `topics describe` prints them.
        """
        if action == "create":
            for name, outcome in create_topics(self.settings).items():
                console.print(f"{outcome:>8}  {name}")
            return
        table = Table(title=f"Topics on {self.settings.kafka_bootstrap_servers}")
        for column in ("topic", "key", "value", "partitions", "RF", "retention"):
            table.add_column(column, no_wrap=column == "topic")
        for topic in describe_topics(self.settings):
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


def register_intake_command(app: faust.App) -> None:
    @app.command(
        faust.cli.option(
            "--port", type=int, help="Listen here (default COUNTERSIGN_INTAKE_PORT, 8080)."
        ),
        base=ToolCommand,
    )
    async def intake(self: ToolCommand, port: int | None) -> None:
        """Serve the sign form and POST /petitions/{id}/signatures (the HTTP intake).

        Answers 202 only after Kafka acknowledged the event on signatures.submitted;
        400 with per-field errors, 413 over 16 KiB, 429 past the rate limits
        (COUNTERSIGN_INTAKE_RATE_LIMITS, per client IP and petition), 503/504 with
        Retry-After when Kafka cannot take or confirm it. X-Forwarded-For is believed
        only from COUNTERSIGN_INTAKE_TRUSTED_PROXIES. SIGTERM or Ctrl-C finish the
        requests in flight and flush Kafka before exiting.
        """
        settings = self.settings
        if port is not None:
            settings = settings.model_copy(update={"intake_port": port})
        await serve_intake(settings)


def register_sink_commands(app: faust.App) -> None:
    @app.command(
        faust.cli.option(
            "--port", type=int, help="Listen here (default COUNTERSIGN_API_PORT, 6066)."
        ),
        base=ToolCommand,
    )
    async def serve(self: ToolCommand, port: int | None) -> None:
        """Run the ClickHouse sink and serve the dashboard and the JSON API.

        The one process that opens ClickHouse (COUNTERSIGN_CLICKHOUSE_DSN; the embedded
        chdb:// engine by default): it applies the migrations, writes the pipeline's
        output topics into ClickHouse and serves /, /api/petitions/..., /healthz and
        /metrics. Run it beside `countersign worker`. With
        COUNTERSIGN_SINK_ENABLED=false it serves the API only (further replicas
        against a ClickHouse server). SIGTERM or Ctrl-C write the last batch first.
        """
        settings = self.settings
        if port is not None:
            settings = settings.model_copy(update={"api_port": port})
        await serve_api(settings)

    @app.command(base=ToolCommand)
    def migrate(self: ToolCommand) -> None:
        """Apply the ClickHouse migrations that are not applied yet (`serve` does too).

        The target is COUNTERSIGN_CLICKHOUSE_DSN (default: the embedded chdb:// engine
        under the data directory, which only one process can open at a time).
        """
        settings = self.settings
        applied = apply_migrations(
            connect(settings.clickhouse_target), settings.clickhouse_database
        )
        for migration in applied:
            console.print(f"applied {migration.version:04d}_{migration.name}")
        console.print(f"{settings.clickhouse_target}: {len(applied)} migrations applied now")


def register_petition_commands(app: faust.App) -> None:
    @app.command(
        faust.cli.argument("action", type=click.Choice(["add", "list", "close"])),
        faust.cli.argument("petition_id", required=False),
        faust.cli.option(
            "--file",
            "file",
            type=click.Path(exists=True, dir_okay=False),
            help="add: a petition JSON file (see deploy/petitions/).",
        ),
        faust.cli.option("--title", help="add: the petition's title."),
        faust.cli.option(
            "--opens-at", help="add: ISO time the signing window opens (default now)."
        ),
        faust.cli.option("--closes-at", help="add: ISO time it closes (exclusive); close: when."),
        faust.cli.option(
            "--threshold",
            "thresholds",
            type=int,
            multiple=True,
            help="add: a signature count worth celebrating (repeatable).",
        ),
        base=ToolCommand,
    )
    def petitions(  # noqa: PLR0917  (click passes options positionally)
        self: ToolCommand,
        action: str,
        petition_id: str | None,
        file: str | None,
        title: str | None,
        opens_at: str | None,
        closes_at: str | None,
        thresholds: tuple[int, ...],
    ) -> None:
        """Add, list or close petitions in the catalogue (the `petitions` topic).

        \b
        countersign petitions add --file deploy/petitions/syria-icc.json
        countersign petitions add my-petition --title "Free them" --closes-at 2027-01-01T00:00:00Z
        countersign petitions list
        countersign petitions close my-petition [--closes-at 2026-12-31T23:59:59Z]
        """
        now = datetime.now(UTC)
        if action == "list":
            print_catalogue(read_catalogue(self.settings))
            return
        if action == "add":
            if file is not None:
                petition = petition_from_file(Path(file), now=now)
            elif petition_id and title:
                petition = new_petition(
                    petition_id,
                    title,
                    opens_at=opens_at or now,
                    closes_at=closes_at,
                    thresholds=list(thresholds),
                    now=now,
                )
            else:
                raise CatalogueError("add needs --file, or a petition id and --title")
            publish_petition(self.settings, petition)
            console.print(f"added petition [bold]{petition['petition_id']}[/]: {petition['title']}")
            return
        if not petition_id:
            raise CatalogueError("close needs the petition id")
        existing = read_catalogue(self.settings).get(petition_id)
        if existing is None:
            raise CatalogueError(f"no petition {petition_id!r} in the catalogue")
        closes = parse_time(closes_at) or now
        publish_petition(self.settings, {**existing, "closes_at": closes, "updated_at": now})
        console.print(f"petition {petition_id} closes at {closes.isoformat()}")


def print_catalogue(catalogue: dict[str, Petition]) -> None:
    table = Table(title=f"{len(catalogue)} petitions")
    for column in ("id", "title", "opens at", "closes at", "thresholds"):
        table.add_column(column)
    for petition in sorted(catalogue.values(), key=lambda p: p["opens_at"]):
        closes = petition["closes_at"]
        table.add_row(
            petition["petition_id"],
            petition["title"],
            petition["opens_at"].isoformat(),
            closes.isoformat() if closes else "open-ended",
            ", ".join(f"{t:,}" for t in petition["thresholds"]),
        )
    console.print(table)


def build_app(settings: Settings) -> CountersignApp:
    app = create_app(settings)
    register_commands(app)
    register_petition_commands(app)
    register_sink_commands(app)
    register_simulate_command(app)
    register_intake_command(app)
    register_agents(app)
    return app


def main() -> NoReturn:
    """Entry point of the ``countersign`` console script."""
    try:
        settings = Settings()
    except ValidationError as exc:
        errors.print(f"[red]countersign: bad configuration[/]\n{exc}")
        sys.exit(2)
    faust_cli.help = HELP
    args = sys.argv[1:]
    if args[:1] == ["worker"]:
        if not {"--with-web", "--without-web"} & set(args):
            # Faust's `worker` turns its own web server on by default; ours serves the port.
            sys.argv.insert(2, "--without-web")
        if settings.event_loop == "uvloop":
            # Before the loop exists (Faust reads its own --loop option at import).
            mode.loop.use("uvloop")
    build_app(settings).main()
