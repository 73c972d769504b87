"""``/ops`` privacy actions (docs/privacy.md): erase a signer (``POST /ops/erasures``)
and run or plan retention (``POST /ops/retention``). ``countersign serve`` offers them
when it follows keys.signers; the CLI's ``erase`` and ``retention`` call them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from streams.core.answers import JsonRefusal, required_text
from streams.core.errors import KafkaUnavailable, PublishFailed
from streams.rules.keys import DedupeKey, is_email_hash
from streams.signerkeys.erasure import Erased, Eraser
from streams.signerkeys.retention import RetentionJob


@dataclass(frozen=True)
class Privacy:
    """What the privacy routes act through: one followed copy of keys.signers."""

    eraser: Eraser
    retention: RetentionJob


OPS_PRIVACY: web.AppKey[Privacy | None] = web.AppKey("ops_privacy")


def _privacy(request: web.Request) -> Privacy:
    privacy = request.app[OPS_PRIVACY]
    if privacy is None:
        raise JsonRefusal(404, "this serve does not erase (it follows no keys.signers)")
    return privacy


async def _body(request: web.Request) -> dict[str, Any]:
    body = await request.json()
    if not isinstance(body, dict):
        raise JsonRefusal(400, "the body is a JSON object")
    return body


async def erase(request: web.Request) -> web.Response:
    """Erase a signer's data keys (docs/privacy.md): ``{"email", "petition_id"?,
    "reason"?, "actor", "dry_run"?}``, or for a withdrawal ``{"petition_id",
    "email_hash", "actor", "withdrawal": true}`` -> ``{"erasure_id", "keys",
    "petitions", "gone_by"}``. The counts do not change; what the keys sealed is unreadable from
    now on, and off every broker's disk by ``gone_by``. Kafka has the tombstones and
    the erasure's record when this answers; the address is kept nowhere."""
    eraser = _privacy(request).eraser
    body = await _body(request)
    actor = required_text(body, "actor")
    for name in ("petition_id", "reason"):  # checked before anything is erased
        if body.get(name) is not None and not isinstance(body[name], str):
            raise JsonRefusal(400, f"{name} is text")
    try:
        return await _erase(eraser, body, actor)
    except (KafkaUnavailable, PublishFailed) as exc:
        raise JsonRefusal(503, f"{exc}") from exc


async def _erase(eraser: Eraser, body: dict[str, Any], actor: str) -> web.Response:
    if "email_hash" in body:  # a withdrawal: the signer named by hash, for one petition
        signer = DedupeKey(required_text(body, "petition_id"), required_text(body, "email_hash"))
        if not is_email_hash(signer.email_hash):
            raise JsonRefusal(400, "email_hash is not an email hash")
        erased = await asyncio.to_thread(
            eraser.erase_signer,
            signer,
            reason="withdrawal" if body.get("withdrawal") else "request",
            requested_by=actor,
        )
        return _erased(erased)
    email = required_text(body, "email")
    petition_id = body.get("petition_id") or None
    if body.get("dry_run"):
        found = await asyncio.to_thread(eraser.find, email, petition_id)
        petitions = sorted({key.dedupe_key.petition_id for key in found})
        return web.json_response({"keys": len(found), "petitions": petitions})
    erased = await asyncio.to_thread(
        eraser.erase,
        email,
        petition_id=petition_id,
        reason="request",
        requested_by=actor,
        detail=body.get("reason") or None,
    )
    return _erased(erased)


def _erased(erased: Erased) -> web.Response:
    return web.json_response(_erased_json(erased))


def _erased_json(erased: Erased) -> dict[str, Any]:
    return {
        "erasure_id": erased.erasure_id,
        "keys": len(erased.keys),
        "petitions": erased.petitions,
        "gone_by": erased.gone_by.isoformat(timespec="seconds"),
    }


async def retention(request: web.Request) -> web.Response:
    """Run retention now, or with ``dry_run`` only plan it: ``{"actor", "dry_run"?}``
    -> ``{"petitions": [{"petition_id", "shred_at", "state", "keys"}], "erasures":
    [{"erasure_id", "keys", "petitions", "gone_by"}]}``. The counts do not change."""
    job = _privacy(request).retention
    body = await _body(request)
    actor = required_text(body, "actor")
    try:
        erasures = [] if body.get("dry_run") else await asyncio.to_thread(job.run, actor)
        planned = await asyncio.to_thread(job.plan)
    except (KafkaUnavailable, PublishFailed) as exc:
        raise JsonRefusal(503, f"{exc}") from exc
    return web.json_response(
        {
            "petitions": [p.as_json() for p in planned],
            "erasures": [_erased_json(erased) for erased in erasures],
        }
    )
