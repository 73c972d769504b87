"""``countersign simulate``: the demo feed of ``make run`` and the seed campaign."""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.progress import MofNCompleteColumn, Progress

from streams.catalogue.store import publish_petition, read_catalogue
from streams.cli.tools import console, tool
from streams.core import kafka
from streams.core.errors import CountersignError, KafkaUnavailable
from streams.core.settings import Settings
from streams.core.topicspecs import SUBMITTED
from streams.demo.campaign import (
    SEED_PETITION,
    SEED_SIGNATURES,
    GroundTruth,
    SeedCampaign,
    Submission,
    seed_petition,
)
from streams.demo.mailbox import LinkFollower, MailpitApi, mailbox_of
from streams.demo.simulator import DatasetGenerator, default_petitions
from streams.demo.traffic import paced, produce, send_via_http, send_via_kafka
from streams.publish.sealer import Sealer

log = logging.getLogger(__name__)


@click.command()
@click.option(
    "--profile",
    type=click.Choice(["demo", "seed-campaign"]),
    default="demo",
    show_default=True,
    help="demo: four petitions, every kind of bad input; "
    "seed-campaign: 165,953 people sign syria-icc, with duplicates, typos and junk.",
)
@click.option(
    "--via",
    type=click.Choice(["kafka", "http"]),
    default="kafka",
    show_default=True,
    help="Produce to signatures.submitted, or POST to the intake (seed-campaign).",
)
@click.option(
    "--count", type=int, help="Send at most this many events (demo default 2000; 0: all)."
)
@click.option(
    "--rate", type=float, help="Events per second (demo default 20; 0: as fast as taken)."
)
@click.option(
    "--seed",
    type=int,
    help="Repeat the run that printed this seed (default: new people every run).",
)
@click.option(
    "--signatures",
    type=int,
    default=SEED_SIGNATURES,
    show_default=True,
    help="seed-campaign: how many people sign.",
)
@click.option(
    "--intake-url",
    default=None,
    help="--via http: the intake (default http://127.0.0.1:<COUNTERSIGN_INTAKE_PORT>).",
)
@click.option(
    "--concurrency",
    type=int,
    default=32,
    show_default=True,
    help="HTTP requests in flight.",
)
@click.option(
    "--confirmation",
    type=click.Choice(["none", "email"]),
    default="none",
    show_default=True,
    help="seed-campaign: the seed petition's policy, when this adds it to the catalogue "
    "(email: signatures stay pending until their links are followed).",
)
@click.option(
    "--follow-links",
    "follow_share",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Meanwhile, play the signers reading their mail: follow the confirmation link "
    "of this share of them (chosen by address), read from Mailpit (--mailpit-api).",
)
@click.option(
    "--mailpit-api",
    default="http://127.0.0.1:8025",
    show_default=True,
    help="--follow-links: where Mailpit's REST API is.",
)
@click.option(
    "--truth",
    type=click.Path(dir_okay=False, writable=True),
    help="seed-campaign: write the counts the pipeline must reach here (JSON).",
)
@tool
async def simulate(  # noqa: PLR0917
    settings: Settings,
    profile: str,
    via: str,
    count: int | None,
    rate: float | None,
    seed: int | None,
    signatures: int,
    intake_url: str | None,
    concurrency: int,
    confirmation: str,
    follow_share: float,
    mailpit_api: str,
    truth: str | None,
) -> None:
    """Send campaign traffic: the demo feed or the seed campaign.

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
    # The demo's signers read only their own mail: a person trying the form keeps theirs.
    mailboxes: set[str] | None = set() if profile == "demo" else None
    if follow_share > 0:
        start_following(MailpitApi(mailpit_api), follow_share, mailboxes)
    if seed is None:
        # A fixed default re-sent the same people on every `make run`: all duplicates.
        seed = secrets.randbelow(2**31)
    console.print(f"seed {seed} (--seed {seed} sends the same people again)")
    if profile == "demo":
        if via != "kafka" or truth:
            raise CountersignError(
                "the demo profile sends undecodable bytes, which only Kafka carries, and "
                "has no ground truth file: use --profile seed-campaign for --via http/--truth"
            )
        simulate_demo(
            settings,
            2000 if count is None else count,
            20.0 if rate is None else rate,
            seed,
            mailboxes,
        )
        return
    now = datetime.now(UTC)
    if SEED_PETITION not in read_catalogue(settings):
        publish_petition(settings, seed_petition(now, confirmation))
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


def start_following(api: MailpitApi, share: float, mailboxes: set[str] | None) -> None:
    """Follow confirmation links in the background while the feed runs (a daemon
    thread: it ends with the command)."""

    def follow() -> None:
        follower = LinkFollower(api, share, delete_read=True, mailboxes=mailboxes)
        while True:
            try:
                follower.run_once()
            except OSError as exc:  # Mailpit not up (yet): the signers wait
                log.info("cannot read mail from %s: %s", api.api_url, exc)
            time.sleep(1.0)

    threading.Thread(target=follow, name="link-follower", daemon=True).start()
    console.print(f"following {share:.0%} of the confirmation links mailed to {api.api_url}")


def simulate_demo(
    settings: Settings, count: int, rate: float, seed: int, mailboxes: set[str] | None = None
) -> None:
    """The demo feed: missing demo petitions are added to the catalogue first. The
    mailboxes it signs with are added to ``mailboxes``."""
    now = datetime.now(UTC)
    petitions = default_petitions(now)
    known = read_catalogue(settings)
    for petition in petitions:
        if petition.petition_id not in known:
            publish_petition(settings, petition.record(now))
    generator = DatasetGenerator(seed, petitions, now, live_clock=lambda: datetime.now(UTC))
    producer = kafka.producer(settings, **{"message.max.bytes": 4 * 1024 * 1024})
    topic = settings.topic(SUBMITTED.name)
    # Sealed as the intake seals (COUNTERSIGN_SEAL_PERSONAL_DATA): the demo's
    # signers can then be erased, and their names go under a petition's retention.
    sealer = Sealer.start(settings) if settings.seal_personal_data else None
    sent = 0
    with Progress(
        *Progress.get_default_columns(), MofNCompleteColumn(), console=console
    ) as progress:
        task = progress.add_task("sending signatures", total=count or None)
        for event in paced(generator.stream(), rate, count):
            value = event.value if sealer is None else sealer.seal_value(event.value)
            produce(producer, topic, event.key, value)
            if mailboxes is not None and event.email is not None:
                mailboxes.add(mailbox_of(event.email))
            sent += 1
            progress.advance(task)
    if sealer is not None:
        sealer.close()
    if producer.flush(30) != 0:
        raise KafkaUnavailable("Kafka did not take every simulated event in 30 s")
    console.print(f"sent {sent} events to {topic}")
