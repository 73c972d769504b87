"""``GET /confirm/{token}``: a signer follows the link of their confirmation mail.

The token is checked here (``streams.core.links``); a good one puts a
SignatureConfirmed on ``signatures.confirmations``, on the signer's home partition
where the dedupe stage counts it, and the page says thank you only after Kafka
acknowledged it. A link followed again is told so kindly: ``countersign serve`` is
asked whether this signer confirmed already (if it cannot say, the confirmation is
simply sent again, which counts nothing twice).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from schemas.codec import codec
from streams.core.errors import Backpressure, LinkExpired, LinkInvalid, PublishFailed
from streams.core.links import ConfirmationClaim, read_confirmation
from streams.core.settings import Settings
from streams.core.topics import CONFIRMATIONS
from streams.intake import pages
from streams.publish import AsyncPublisher
from streams.rules.keys import DedupeKey

log = logging.getLogger(__name__)

#: How long the page waits for serve's answer to "confirmed already?".
ASK_SERVE_SECONDS = 2.0


async def confirmed_at(settings: Settings, claim: ConfirmationClaim) -> datetime | None:
    """When this signer confirmed before, as serve knows it; None if not or unknown."""
    url = (
        f"{settings.api_base_url}/ops/petitions/{claim.petition_id}"
        f"/confirmations/{claim.email_hash}"
    )
    headers = {"Authorization": f"Bearer {settings.ops_token.get_secret_value()}"}
    try:
        timeout = aiohttp.ClientTimeout(total=ASK_SERVE_SECONDS)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers=headers) as response,
        ):
            if response.status != 200:
                return None
            answer = await response.json()
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.info("could not ask serve whether %s confirmed already: %r", claim.petition_id, exc)
        return None
    stamp = answer.get("confirmed_at")
    return None if stamp is None else datetime.fromisoformat(stamp)


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
    settings: Settings,
    publisher: AsyncPublisher,
    title_of: Callable[[str], str],
) -> web.Response:
    """The page a confirmation link opens (see the module's docstring)."""
    try:
        claim, _signed_at = read_confirmation(settings, request.match_info["token"])
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
        return pages.render_problem(
            pages.Problem(
                400,
                "This link does not work",
                "It may have been cut short by your mail program: copy the whole link from "
                "the mail into your browser's address bar.",
            ),
            embed=False,
        )
    before = await confirmed_at(settings, claim)
    if before is not None:
        return pages.render_confirmed(title_of(claim.petition_id), before, again=True)
    key, value = confirmation_record(claim, datetime.now(UTC))
    try:
        await publisher.send_record(
            settings.topic(CONFIRMATIONS.name), key, value, claim.home_partition
        )
    except (Backpressure, PublishFailed) as exc:
        retry_after = exc.retry_after if isinstance(exc, Backpressure) else 5.0
        return pages.render_busy(503, exc.detail, retry_after, embed=False)
    log.info("confirmation of a signature of %s taken", claim.petition_id)
    return pages.render_confirmed(title_of(claim.petition_id), datetime.now(UTC), again=False)
