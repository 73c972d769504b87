"""The ``countersign`` command: Faust's own CLI (``countersign worker``) plus ours.

Our commands are short-lived tools (admin calls, replays), so they run in the
foreground through ``ToolCommand`` rather than inside a Faust worker: a
``CountersignError`` becomes one red line and exit code 1, not a traceback.
Each command's docstring is its ``--help``; its first line is the summary that
``countersign --help`` lists.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
import faust
from faust.cli import AppCommand
from faust.cli.faust import cli as faust_cli
from pydantic import ValidationError
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress
from rich.table import Table

from sinks.clickhouse.client import connect
from sinks.clickhouse.migrate import migrate as apply_migrations
from streams import kafka
from streams.agents import register_agents
from streams.app import CountersignApp, create_app
from streams.campaign import (
    SEED_PETITION,
    SEED_SIGNATURES,
    GroundTruth,
    SeedCampaign,
    Submission,
    seed_petition,
)
from streams.catalogue import (
    Petition,
    new_petition,
    parse_time,
    petition_from_file,
    publish_petition,
    read_catalogue,
)
from streams.errors import CatalogueError, CountersignError, KafkaUnavailable
from streams.intake.server import serve as serve_intake
from streams.logs import setup_logging
from streams.settings import Settings
from streams.simulator import INTENT_WEIGHTS, INTENTS, DatasetGenerator, default_petitions
from streams.topics import SUBMITTED, Retention, create_topics, describe_topics
from streams.traffic import paced, send_via_http, send_via_kafka

# Piped output (logs, CI, tests) is not squeezed to 80 columns.
console = Console(width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

HELP = """Countersign: exact, live, auditable petition signature counts.

Kafka topics in, Faust agents in the middle, ClickHouse and a live dashboard out.
Configuration comes from COUNTERSIGN_* environment variables (see README.md).
"""


class ToolCommand(AppCommand):
    """A command that runs in the foreground, without starting a Faust worker."""

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        setup_logging(self.settings.log_level)
        try:
            result = self.run(*self.args, *args, **{**self.kwargs, **kwargs})
            if inspect.isawaitable(result):
                asyncio.run(_awaited(result))
        except CountersignError as exc:
            errors.print(f"[red]countersign: {exc}[/]")
            sys.exit(1)
        sys.exit(0)

    @property
    def settings(self) -> Settings:
        app = self.app
        assert isinstance(app, CountersignApp)
        return app.countersign_settings


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


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


def register_simulate_command(app: faust.App) -> None:
    @app.command(
        faust.cli.option(
            "--profile",
            type=click.Choice(["demo", "seed-campaign"]),
            default="demo",
            show_default=True,
            help="demo: four petitions, every kind of bad input, endless; "
            "seed-campaign: 165,953 people sign syria-icc, with duplicates, typos and junk.",
        ),
        faust.cli.option(
            "--via",
            type=click.Choice(["kafka", "http"]),
            default="kafka",
            show_default=True,
            help="Produce to signatures.submitted, or POST to the intake (seed-campaign).",
        ),
        faust.cli.option(
            "--count", type=int, help="Send at most this many events (demo default 2000; 0: all)."
        ),
        faust.cli.option(
            "--rate", type=float, help="Events per second (demo default 20; 0: as fast as taken)."
        ),
        faust.cli.option("--seed", type=int, default=1, show_default=True),
        faust.cli.option(
            "--signatures",
            type=int,
            default=SEED_SIGNATURES,
            show_default=True,
            help="seed-campaign: how many people sign.",
        ),
        faust.cli.option(
            "--intake-url",
            default=None,
            help="--via http: the intake (default http://127.0.0.1:<COUNTERSIGN_INTAKE_PORT>).",
        ),
        faust.cli.option(
            "--concurrency",
            type=int,
            default=32,
            show_default=True,
            help="HTTP requests in flight.",
        ),
        faust.cli.option(
            "--truth",
            type=click.Path(dir_okay=False, writable=True),
            help="seed-campaign: write the counts the pipeline must reach here (JSON).",
        ),
        base=ToolCommand,
    )
    async def simulate(  # noqa: PLR0917
        self: ToolCommand,
        profile: str,
        via: str,
        count: int | None,
        rate: float | None,
        seed: int,
        signatures: int,
        intake_url: str | None,
        concurrency: int,
        truth: str | None,
    ) -> None:
        """Send realistic campaign traffic: the demo feed, or the seed campaign.

        \b
        countersign simulate                       # demo feed to Kafka, 20/s (make run)
        countersign simulate --profile seed-campaign --via http --truth truth.json

        The demo profile spreads signers over four petitions with every kind of bad
        input (undecodable bytes included, so Kafka only). The seed-campaign profile is
        shaped like the campaign that inspired Countersign: 165,953 people from dozens
        of countries sign syria-icc, with names from many locales, a share of duplicates
        (another spelling of the same email), resent submissions, corrected typos and
        junk. Over HTTP it honours Retry-After and resends with the same signature_id;
        the intake must trust 127.0.0.1 as a proxy
        (COUNTERSIGN_INTAKE_TRUSTED_PROXIES=127.0.0.1) so each simulated signer has its
        own address. --truth writes the counts the pipeline must then show.
        """
        settings = self.settings
        if profile == "demo":
            if via != "kafka" or truth:
                raise CountersignError(
                    "the demo profile sends undecodable bytes, which only Kafka carries, and "
                    "has no ground truth file: use --profile seed-campaign for --via http/--truth"
                )
            simulate_demo(
                settings, 2000 if count is None else count, 20.0 if rate is None else rate, seed
            )
            return
        now = datetime.now(UTC)
        if SEED_PETITION not in read_catalogue(settings):
            publish_petition(settings, seed_petition(now))
        expected = GroundTruth(SEED_PETITION)
        campaign = SeedCampaign(seed, signatures)
        with Progress(
            *Progress.get_default_columns(), MofNCompleteColumn(), console=console
        ) as progress:
            people = progress.add_task(f"people signing via {via}", total=signatures)
            events = progress.add_task("events sent", total=None)

            def tick(submission: Submission) -> None:
                progress.advance(events)
                if submission.intent == "signature":
                    progress.advance(people)

            if via == "kafka":
                sent = send_via_kafka(
                    settings, paced(campaign, rate or 0.0, count or 0), expected, tick
                )
            else:
                url = intake_url or f"http://127.0.0.1:{settings.intake_port}"
                sent = await send_via_http(
                    url,
                    campaign,
                    expected,
                    tick,
                    rate=rate or 0.0,
                    count=count or 0,
                    concurrency=concurrency,
                )
        counts = expected.as_json()
        summary = counts["petitions"][SEED_PETITION]
        console.print(
            f"sent {sent:,} events via {via}: {summary['total']:,} signatures expected, "
            f"rejected {summary['rejected']}; intake answers {counts['intake']}"
        )
        if truth:
            Path(truth).write_text(json.dumps(counts, indent=2, ensure_ascii=False) + "\n")
            console.print(f"ground truth written to {truth}")


def simulate_demo(settings: Settings, count: int, rate: float, seed: int) -> None:
    """The demo feed: missing demo petitions are added to the catalogue first."""
    now = datetime.now(UTC)
    petitions = default_petitions(now)
    known = read_catalogue(settings)
    for petition in petitions:
        if petition.petition_id not in known:
            publish_petition(settings, petition.record(now))
    generator = DatasetGenerator(seed, petitions, now, live_clock=lambda: datetime.now(UTC))
    producer = kafka.producer(settings, **{"message.max.bytes": 4 * 1024 * 1024})
    topic = settings.topic(SUBMITTED.name)
    sent = 0
    with Progress(
        *Progress.get_default_columns(), MofNCompleteColumn(), console=console
    ) as progress:
        task = progress.add_task("sending signatures", total=count or None)
        started = time.monotonic()
        while count == 0 or sent < count:
            intent = generator.rng.choices(INTENTS, INTENT_WEIGHTS)[0]
            event = generator.event(intent)
            producer.produce(topic, event.value, event.key)
            producer.poll(0)
            sent += 1
            progress.advance(task)
            if rate > 0:
                time.sleep(max(0.0, started + sent / rate - time.monotonic()))
    if producer.flush(30) != 0:
        raise KafkaUnavailable("Kafka did not take every simulated event in 30 s")
    console.print(f"sent {sent} events to {topic}")


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
    @app.command(base=ToolCommand)
    def migrate(self: ToolCommand) -> None:
        """Apply the ClickHouse migrations that are not applied yet (the worker does too).

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
    if args[:1] == ["worker"] and not {"--with-web", "--without-web"} & set(args):
        # Faust's `worker` turns its own web server on by default; ours serves the port.
        sys.argv.insert(2, "--without-web")
    build_app(settings).main()
