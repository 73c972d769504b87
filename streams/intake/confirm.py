"""``GET /confirm/{token}``: a signer follows the link of their confirmation mail.

The token is checked here (``streams.core.links``); a good one puts a
SignatureConfirmed on ``signatures.confirmations``, on the signer's home partition
where the dedupe stage counts it, and the page says thank you only after Kafka
acknowledged it.

The page is public and each new claim costs a question to ``countersign serve`` (a
ClickHouse query) and a record on a topic kept forever, so it is guarded:

* each client (its network, as the signature limits count it) may follow
  ``intake_confirm_rate_limits`` links;
* a claim this intake published, or serve reported confirmed, is remembered and
  answered from memory; followers of one link at once share one answer;
* serve is asked over one shared HTTP session; when it cannot say whether the signer
  confirmed already, the page asks to try again (503) rather than publish blind, so
  a confirmation already on Kafka is never published again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from schemas.codec import codec
from streams.core.errors import (
    Backpressure,
    LinkExpired,
    LinkInvalid,
    PublishFailed,
    RateLimited,
    ServeUnavailable,
)
from streams.core.links import ConfirmationClaim, read_confirmation
from streams.core.settings import Settings
from streams.core.topicspecs import CONFIRMATIONS
from streams.intake import pages
from streams.intake.ratelimit import RateLimiter
from streams.publish import AsyncPublisher
from streams.rules.keys import DedupeKey

log = logging.getLogger(__name__)

#: How long the page waits for serve's answer to "confirmed already?".
ASK_SERVE_SECONDS = 2.0
#: Claims remembered as confirmed (the oldest are forgotten first; serve still knows).
REMEMBERED_CLAIMS = 100_000
#: What a follower is told to wait when serve cannot answer.
SERVE_RETRY_SECONDS = 5.0

Signer = tuple[str, str]  # (petition_id, email_hash)


class Confirmations:
    """What the confirm page remembers between requests (see the module docstring)."""

    def __init__(self, settings: Settings, publisher: AsyncPublisher) -> None:
        self.settings = settings
        self.publisher = publisher
        self.limiter = RateLimiter(settings.confirm_rate_limits)
        self.confirmed: OrderedDict[Signer, datetime] = OrderedDict()
        self._pending: dict[Signer, asyncio.Future[datetime]] = {}
        self._session: aiohttp.ClientSession | None = None

    def remember(self, signer: Signer, at: datetime) -> None:
        self.confirmed[signer] = at
        self.confirmed.move_to_end(signer)
        if len(self.confirmed) > REMEMBERED_CLAIMS:
            self.confirmed.popitem(last=False)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def confirmed_at(self, claim: ConfirmationClaim) -> datetime | None:
        """When this signer confirmed before, as serve knows it; None if never;
        ``ServeUnavailable`` when serve cannot say."""
        url = (
            f"{self.settings.api_base_url}/ops/petitions/{claim.petition_id}"
            f"/confirmations/{claim.email_hash}"
        )
        headers = {"Authorization": f"Bearer {self.settings.ops_token.get_secret_value()}"}
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=ASK_SERVE_SECONDS)
            self._session = aiohttp.ClientSession(timeout=timeout)
        try:
            async with self._session.get(url, headers=headers) as response:
                if response.status != 200:
                    raise ServeUnavailable(f"serve answered {response.status}")
                answer = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ServeUnavailable(type(exc).__name__) from exc
        stamp = answer.get("confirmed_at")
        return None if stamp is None else datetime.fromisoformat(stamp)

    async def confirm(self, claim: ConfirmationClaim) -> tuple[datetime, bool]:
        """``(confirmed at, again)``: publish the claim's confirmation unless it is on
        Kafka already; concurrent followers of one signer's link share the outcome."""
        signer = (claim.petition_id, claim.email_hash)
        if signer in self.confirmed:
            return self.confirmed[signer], True
        if signer in self._pending:
            return await asyncio.shield(self._pending[signer]), True
        future: asyncio.Future[datetime] = asyncio.get_running_loop().create_future()
        self._pending[signer] = future
        try:
            before = await self.confirmed_at(claim)
            if before is not None:
                self.remember(signer, before)
                future.set_result(before)
                return before, True
            now = datetime.now(UTC)
            key, value = confirmation_record(claim, now)
            await self.publisher.send_record(
                self.settings.topic(CONFIRMATIONS.name), key, value, claim.home_partition
            )
            self.remember(signer, now)
            future.set_result(now)
            return now, False
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a failure nobody else awaited is not logged
            raise
        finally:
            del self._pending[signer]


def confirmation_record(claim: ConfirmationClaim, now: datetime) -> tuple[bytes, bytes]:
    """Key and value of the SignatureConfirmed of a claim."""
    key = DedupeKey(claim.petition_id, claim.email_hash).encode()
    value = codec("SignatureConfirmed").encode(
        {
            "petition_id": claim.petition_id,
            "email_hash": claim.email_hash,
            "signature_id": claim.signature_id,
            "confirmed_at": now,
            "source": "link",
        }
    )
    return key, value


async def confirm(
    request: web.Request,
    confirmations: Confirmations,
    client: str | None,
    title_of: Callable[[str], str],
) -> web.Response:
    """The page a confirmation link opens (see the module's docstring)."""
    try:
        confirmations.limiter.acquire(client, time.monotonic())
    except RateLimited as exc:
        return pages.render_busy(429, exc.detail, exc.retry_after, embed=False)
    try:
        claim, _signed_at = read_confirmation(confirmations.settings, request.match_info["token"])
    except LinkExpired:
        return pages.render_problem(
            pages.Problem(
                410,
                "This link has expired",
                "Confirmation links work for a limited time. Sign the petition again with "
                "the same address and we will send you a new link.",
            ),
            embed=False,
        )
    except LinkInvalid:
        return pages.render_broken_link()
    try:
        at, again = await confirmations.confirm(claim)
    except ServeUnavailable as exc:
        log.warning("confirmation of %s deferred: serve cannot say (%s)", claim.petition_id, exc)
        detail = "We cannot check your confirmation right now; please try again in a moment."
        return pages.render_busy(503, detail, SERVE_RETRY_SECONDS, embed=False)
    except (Backpressure, PublishFailed) as exc:
        retry_after = exc.retry_after if isinstance(exc, Backpressure) else 5.0
        return pages.render_busy(503, exc.detail, retry_after, embed=False)
    if not again:
        log.info("confirmation of a signature of %s taken", claim.petition_id)
    settings = confirmations.settings
    receipt_page = settings.receipt_page_url if settings.transparency_log else None
    return pages.render_confirmed(
        title_of(claim.petition_id), at, again=again, receipt_page=receipt_page
    )
