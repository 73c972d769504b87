"""The intake's state and its one decision, with no HTTP in it: who the client is, whether
a browser's post comes from a site it may come from, and ``submit`` (an identical
resend answered with its first's outcome; else rate-limit, then publish and return
once Kafka has the event). ``streams.intake.server`` speaks HTTP around it."""

from __future__ import annotations

import asyncio
import logging
import time

from streams.catalogue.follower import PetitionLookup
from streams.core.clientip import client_ip, networks, rate_bucket
from streams.core.errors import Backpressure, CrossSiteRefused, PublishFailed, RateLimited
from streams.core.settings import Settings
from streams.intake.confirm import Confirmations
from streams.intake.crosssite import claimed_origin, is_own_or_allowed
from streams.intake.formtoken import FormTokens
from streams.intake.metrics import RESENDS, SURGES
from streams.intake.ratelimit import RateLimiter
from streams.intake.resends import RecentSubmissions, same_submission
from streams.intake.surge import SurgeDetector
from streams.intake.withdraw import Withdrawals
from streams.publish import AsyncPublisher, Receipt, Signature
from streams.publish.publisher import RETRY_AFTER_SECONDS

log = logging.getLogger(__name__)


class Intake:
    """The intake's state: settings, catalogue, publisher, rate limiter, and the
    recent submissions that answer identical resends."""

    def __init__(
        self, settings: Settings, petitions: PetitionLookup, publisher: AsyncPublisher
    ) -> None:
        self.settings = settings
        self.petitions = petitions
        self.publisher = publisher
        self.limiter = RateLimiter(settings.rate_limits)
        self.confirmations = Confirmations(settings, publisher)
        self.withdrawals = Withdrawals(settings, publisher)
        self.recent: RecentSubmissions[Receipt] = RecentSubmissions(
            settings.intake_resend_window_seconds, settings.intake_resend_max_entries
        )
        self.trusted = networks(settings.trusted_proxies)
        self.tokens = FormTokens(
            settings.signing_key.get_secret_value(), settings.intake_form_token_max_age_seconds
        )
        # Set when the intake begins to stop (see ``within``).
        self.stopping = asyncio.Event()
        self.surges = SurgeDetector(
            window_seconds=settings.intake_surge_window_seconds,
            baseline_seconds=settings.intake_surge_baseline_seconds,
            factor=settings.intake_surge_factor,
            min_signatures=settings.intake_surge_min_signatures,
            bucket_seconds=settings.intake_surge_bucket_seconds,
        )

    def client(self, remote: str | None, forwarded_for: str | None) -> str | None:
        """The client's address: ``X-Forwarded-For``'s, if it comes from a trusted proxy."""
        return client_ip(remote, forwarded_for, self.trusted)

    def bucket(self, ip: str | None) -> str | None:
        """The network a client is rate-limited as (signatures and confirm links)."""
        return rate_bucket(
            ip,
            ipv4_prefix=self.settings.intake_ipv4_prefix,
            ipv6_prefix=self.settings.intake_ipv6_prefix,
        )

    def check_origin(self, origin_header: str | None, referer: str | None, host: str) -> None:
        """``CrossSiteRefused`` when a browser says the post comes from a site that is
        neither the intake (``host``) nor one of ``intake_cors_origins``."""
        origin = claimed_origin(origin_header, referer)
        if origin is not None and not is_own_or_allowed(origin, host, self.settings.cors_origins):
            raise CrossSiteRefused(
                f"this form was sent from another site ({origin}); "
                "please check it and send it again here"
            )

    async def submit(self, signature: Signature) -> bool:
        """Answer an identical resend with its first's outcome, else rate-limit and
        publish; returns once Kafka has the event (or raises why not): True when it
        was an identical resend, answered without publishing again.

        The limiter's slot is keyed by the client's network (``rate_bucket``) and
        carries the submission as its token, so a resend that is no longer
        remembered still takes no second slot. The publishing runs as a task of its
        own, shielded from the request: a client that hangs up does not cancel it,
        and resends waiting for it hear the same outcome. If Kafka does not take the
        event, the slot is given back and the submission forgotten.
        """
        token = same_submission(signature)
        now = time.monotonic()
        first = self.recent.get(token, now)
        if first is not None:
            RESENDS.inc()
            await asyncio.shield(first)
            return True
        key = (self.bucket(signature.client_ip), signature.petition_id)
        stamp = self.limiter.acquire(key, now, token)
        publishing = asyncio.ensure_future(self.publisher.publish(signature))
        if stamp is not None:

            def release_unless_taken(done: asyncio.Future[Receipt]) -> None:
                if done.cancelled() or done.exception() is not None:
                    self.limiter.release(key, stamp)

            publishing.add_done_callback(release_unless_taken)
        self.recent.add(token, publishing, now)
        await asyncio.shield(publishing)
        self.watch_for_surges(signature)
        return False

    def watch_for_surges(self, signature: Signature) -> None:
        """Count a signature Kafka took; tell ops of a surge it starts (refuse nobody)."""
        for surge in self.surges.observe(signature.petition_id, signature.email, time.time()):
            SURGES.labels("domain" if surge.domain else "petition").inc()
            log.warning(surge.describe(self.settings.intake_surge_window_seconds))


def refusal(exc: Backpressure | PublishFailed) -> tuple[int, str, float]:
    """(status, detail, Retry-After) of a signature that was not taken now."""
    if isinstance(exc, Backpressure):
        return (429 if isinstance(exc, RateLimited) else 503), exc.detail, exc.retry_after
    if exc.possibly_persisted:
        detail = (
            "Kafka did not confirm that it took the signature and may hold it: resend the "
            "same signature_id, it is counted once"
        )
        return 504, detail, RETRY_AFTER_SECONDS
    return 503, "Kafka did not take the signature; try again", RETRY_AFTER_SECONDS
