"""Withdrawing a signature: the "remove my signature" link of the confirmation mail.

The link (``streams.core.links``, signed, its own salt) opens a page that asks once
more; its button posts back. The post takes the signature out of the count with a
compensating event on signatures.moderations (an ``invalidate`` by the signer, in a
batch of its own: ``withdrawal-<signature id>``), exactly as ops would, so the count
falls by one however often the link is followed or the worker restarts; then it asks
``serve`` to erase the signer's keys for the petition (docs/privacy.md). Both steps
are safe to repeat: a page that failed halfway says to try again.

A GET never changes anything: mail scanners open links.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from schemas.codec import codec
from streams.core.errors import Backpressure, LinkInvalid, PublishFailed, RateLimited
from streams.core.links import ConfirmationClaim, read_withdrawal
from streams.core.settings import Settings
from streams.core.topicspecs import MODERATIONS
from streams.intake import pages
from streams.intake.ratelimit import RateLimiter
from streams.publish import AsyncPublisher
from streams.rules.keys import DedupeKey

log = logging.getLogger(__name__)

#: How long the intake waits for serve to erase the keys.
ASK_SERVE_SECONDS = 30.0
RETRY_SECONDS = 5.0


def withdrawal_batch(claim: ConfirmationClaim) -> str:
    """The moderation batch of a withdrawal: one per signature, so that no other
    ``reinstate --batch`` puts it back."""
    return f"withdrawal-{claim.signature_id}"


def withdrawal_record(claim: ConfirmationClaim, now: datetime) -> tuple[bytes, bytes]:
    """Key and value of the SignatureModerated that withdraws a claim's signature."""
    key = DedupeKey(claim.petition_id, claim.email_hash).encode()
    value = codec("SignatureModerated").encode(
        {
            "petition_id": claim.petition_id,
            "email_hash": claim.email_hash,
            "signature_id": claim.signature_id,
            "action": "invalidate",
            "batch_id": withdrawal_batch(claim),
            "reason": "withdrawn by the signer",
            "actor": "signer",
            "at": now,
        }
    )
    return key, value


class Withdrawals:
    def __init__(self, settings: Settings, publisher: AsyncPublisher) -> None:
        self.settings = settings
        self.publisher = publisher
        self.limiter = RateLimiter(settings.confirm_rate_limits)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def withdraw(self, claim: ConfirmationClaim) -> int:
        """Take the signature out of the count, then erase the signer's keys for the
        petition; how many keys were erased (0: nothing was sealed, the signature
        predates sealing). ``PublishFailed`` / ``Backpressure`` / ``ConnectionError``
        when a step could not be done (following the link again finishes it)."""
        key, value = withdrawal_record(claim, datetime.now(UTC))
        await self.publisher.send_record(
            self.settings.topic(MODERATIONS.name), key, value, claim.home_partition
        )
        return await self._erase(claim)

    async def _erase(self, claim: ConfirmationClaim) -> int:
        url = f"{self.settings.api_base_url}/ops/erasures"
        headers = {"Authorization": f"Bearer {self.settings.ops_token.get_secret_value()}"}
        body = {
            "petition_id": claim.petition_id,
            "email_hash": claim.email_hash,
            "actor": "signer",
            "withdrawal": True,
        }
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=ASK_SERVE_SECONDS)
            self._session = aiohttp.ClientSession(timeout=timeout)
        try:
            async with self._session.post(url, json=body, headers=headers) as response:
                if response.status != 200:
                    raise ConnectionError(f"serve answered {response.status} to the erasure")
                return int((await response.json())["keys"])
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
            raise ConnectionError(f"serve could not erase: {type(exc).__name__}") from exc


def _claim_or_problem(settings: Settings, token: str) -> ConfirmationClaim | web.Response:
    try:
        return read_withdrawal(settings, token)
    except LinkInvalid:
        return pages.render_broken_link()


async def withdraw_page(
    request: web.Request, withdrawals: Withdrawals, title_of: Callable[[str], str]
) -> web.Response:
    """GET: what following the link would do, and the button that does it."""
    claim = _claim_or_problem(withdrawals.settings, request.match_info["token"])
    if isinstance(claim, web.Response):
        return claim
    return pages.render_withdraw(title_of(claim.petition_id), done=False)


async def withdraw(
    request: web.Request,
    withdrawals: Withdrawals,
    client: str | None,
    title_of: Callable[[str], str],
) -> web.Response:
    """POST: withdraw the signature and erase the signer's data for the petition."""
    try:
        withdrawals.limiter.acquire(client, time.monotonic())
    except RateLimited as exc:
        return pages.render_busy(429, exc.detail, exc.retry_after, embed=False)
    claim = _claim_or_problem(withdrawals.settings, request.match_info["token"])
    if isinstance(claim, web.Response):
        return claim
    try:
        erased = await withdrawals.withdraw(claim)
    except (Backpressure, PublishFailed) as exc:
        retry_after = exc.retry_after if isinstance(exc, Backpressure) else RETRY_SECONDS
        return pages.render_busy(503, exc.detail, retry_after, embed=False)
    except ConnectionError as exc:
        log.warning("withdrawal of a signature of %s half done: %s", claim.petition_id, exc)
        detail = "Your signature is withdrawn, but we could not erase your data yet: try again."
        return pages.render_busy(503, detail, RETRY_SECONDS, embed=False)
    log.info("a signature of %s withdrawn by its signer", claim.petition_id)
    return pages.render_withdraw(title_of(claim.petition_id), done=True, erased=erased > 0)
