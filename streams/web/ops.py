"""``/ops``: what the audit tools (``countersign reconcile``, ``trace``, ``export``)
read from ClickHouse, through the one process that opens it.

Behind a bearer token (``COUNTERSIGN_OPS_TOKEN``): these answers hold names and email
hashes, which the public API never shows.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from sinks.clickhouse.audit import AuditQueries
from sinks.clickhouse.moderation import ModerationQueries
from sinks.clickhouse.rebuild import Rebuild, RebuildRunning
from streams.core.answers import JsonRefusal, json_error, required_text
from streams.core.health import require_ops
from streams.core.settings import Settings
from streams.core.topicspecs import SUBMITTED
from streams.publish.moderation import new_batch_id, publish_moderations
from streams.rules.cut import Cut
from streams.web import ops_privacy

OPS_AUDIT: web.AppKey[AuditQueries] = web.AppKey("ops_audit", AuditQueries)
OPS_SETTINGS: web.AppKey[Settings] = web.AppKey("ops_settings", Settings)
OPS_REBUILD: web.AppKey[Rebuild | None] = web.AppKey("ops_rebuild")
OPS_MODERATION: web.AppKey[ModerationQueries] = web.AppKey("ops_moderation", ModerationQueries)
#: The most signer rows one request returns (the export pages through them).
MAX_SIGNERS_PAGE = 50_000

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build(
    settings: Settings,
    audit: AuditQueries,
    rebuild: Rebuild | None,
    privacy: ops_privacy.Privacy | None = None,
) -> web.Application:
    """The /ops sub-application (mounted by streams/web/server.py)."""
    app = web.Application(middlewares=[_require_token])
    app[OPS_AUDIT] = audit
    app[OPS_SETTINGS] = settings
    app[OPS_REBUILD] = rebuild
    app[ops_privacy.OPS_PRIVACY] = privacy
    app[OPS_MODERATION] = ModerationQueries(audit.client, audit.db)
    app.add_routes(
        [
            web.get("/counts", counts),
            web.post("/counts-at", counts_at),
            web.get("/petitions/{petition_id}/signers", signers),
            web.get("/petitions/{petition_id}/signatures/{email_hash}", signature),
            web.get("/petitions/{petition_id}/confirmations/{email_hash}", confirmation),
            web.post("/rejections", rejections),
            web.get("/petitions/{petition_id}/sources", sources),
            web.post("/petitions/{petition_id}/targets", targets),
            web.get("/petitions/{petition_id}/moderations", moderation_history),
            web.get("/moderations/{batch_id}", moderation_batch),
            web.post("/petitions/{petition_id}/invalidations", invalidate),
            web.post("/moderations/{batch_id}/reinstate", reinstate),
            web.post("/erasures", ops_privacy.erase),
            web.post("/retention", ops_privacy.retention),
            web.post("/rebuild", start_rebuild),
            web.get("/rebuild", rebuild_status),
        ]
    )
    return app


@web.middleware
async def _require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    require_ops(request, request.app[OPS_SETTINGS])
    return await handler(request)


async def counts(request: web.Request) -> web.Response:
    return web.json_response(await asyncio.to_thread(request.app[OPS_AUDIT].counts))


async def counts_at(request: web.Request) -> web.Response:
    """The row-level tables' numbers up to a cut, given as ``rules.cut.Cut`` JSON."""
    try:
        cut = Cut.from_json(json.dumps(await request.json()))
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise JsonRefusal(400, f"not a cut: {type(exc).__name__}") from exc
    topic = request.app[OPS_SETTINGS].topic(SUBMITTED.name)
    return web.json_response(await asyncio.to_thread(request.app[OPS_AUDIT].counts_at, cut, topic))


async def signers(request: web.Request) -> web.Response:
    """``?until=<ISO time>&after=<submitted_at>,<partition>,<offset>,<index>&limit=``"""
    limit = min(int(request.query.get("limit", str(MAX_SIGNERS_PAGE))), MAX_SIGNERS_PAGE)
    until = _utc(request.query["until"])
    after = None
    if "after" in request.query:
        at, partition, offset, index = request.query["after"].split(",")
        after = [_utc(at), int(partition), int(offset), int(index)]
    rows = await asyncio.to_thread(
        request.app[OPS_AUDIT].signers,
        request.match_info["petition_id"],
        until=until,
        after=after,
        limit=limit,
    )
    return web.json_response(rows)


def _utc(text: str) -> datetime:
    """An ISO time; one without a zone is UTC (as ClickHouse's rows come back)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def signature(request: web.Request) -> web.Response:
    row = await asyncio.to_thread(
        request.app[OPS_AUDIT].signature,
        request.match_info["petition_id"],
        request.match_info["email_hash"],
    )
    return web.json_response(row)


async def confirmation(request: web.Request) -> web.Response:
    """When this signer confirmed (the intake asks, to tell a link followed twice)."""
    confirmed_at = await asyncio.to_thread(
        request.app[OPS_AUDIT].confirmed_at,
        request.match_info["petition_id"],
        request.match_info["email_hash"],
    )
    return web.json_response(
        {"confirmed_at": None if confirmed_at is None else confirmed_at.isoformat()}
    )


def _number(request: web.Request, name: str, default: float, most: float) -> float:
    try:
        value = float(request.query.get(name, default))
    except ValueError:
        value = -1
    if not 0 < value <= most:
        raise JsonRefusal(400, f"{name} must be a number above 0 and at most {most:g}")
    return value


async def sources(request: web.Request) -> web.Response:
    """Where a petition's recent signatures came from, against their usual mix."""
    found = await asyncio.to_thread(
        request.app[OPS_MODERATION].sources,
        request.match_info["petition_id"],
        hours=_number(request, "hours", 1, 24 * 30),
        baseline_hours=_number(request, "baseline", 24, 24 * 365),
        top=int(_number(request, "top", 10, 1000)),
    )
    return web.json_response(found)


async def targets(request: web.Request) -> web.Response:
    """The signatures a selector names: ``{"domain"|"ip_prefix"|"signature_ids": ...}``."""
    body = await request.json()
    try:
        rows = await asyncio.to_thread(
            request.app[OPS_MODERATION].targets,
            request.match_info["petition_id"],
            domain=body.get("domain"),
            ip_prefix=body.get("ip_prefix"),
            signature_ids=body.get("signature_ids"),
        )
    except ValueError as exc:
        raise JsonRefusal(400, str(exc)) from exc
    return web.json_response(rows)


async def moderation_batch(request: web.Request) -> web.Response:
    rows = await asyncio.to_thread(
        request.app[OPS_MODERATION].batch, request.match_info["batch_id"]
    )
    return web.json_response(rows)


async def invalidate(request: web.Request) -> web.Response:
    """Take the signatures a selector names out of the count: ``{"domain" |
    "ip_prefix" | "signature_ids", "reason", "actor"}`` -> ``{"batch_id", "signatures"}``.
    Compensating events on signatures.moderations; Kafka has them when this answers."""
    body = await request.json()
    reason, actor = required_text(body, "reason"), required_text(body, "actor")
    petition_id = request.match_info["petition_id"]
    try:
        targets = await asyncio.to_thread(
            request.app[OPS_MODERATION].targets,
            petition_id,
            domain=body.get("domain"),
            ip_prefix=body.get("ip_prefix"),
            signature_ids=body.get("signature_ids"),
        )
    except ValueError as exc:
        raise JsonRefusal(400, str(exc)) from exc
    batch_id = new_batch_id()
    sent = await _moderate(request, petition_id, targets, "invalidate", batch_id, reason, actor)
    return web.json_response({"batch_id": batch_id if sent else None, "signatures": sent})


async def reinstate(request: web.Request) -> web.Response:
    """Put back what an invalidation batch took out: ``{"reason", "actor"}``."""
    body = await request.json()
    reason, actor = required_text(body, "reason"), required_text(body, "actor")
    batch_id = request.match_info["batch_id"]
    targets = await asyncio.to_thread(request.app[OPS_MODERATION].batch, batch_id)
    if not targets:
        raise JsonRefusal(404, f"no invalidation batch {batch_id!r}")
    petition_id = targets[0]["petition_id"]
    sent = await _moderate(request, petition_id, targets, "reinstate", batch_id, reason, actor)
    return web.json_response({"batch_id": batch_id, "petition_id": petition_id, "signatures": sent})


async def _moderate(  # noqa: PLR0917
    request: web.Request,
    petition_id: str,
    targets: list[dict[str, Any]],
    action: str,
    batch_id: str,
    reason: str,
    actor: str,
) -> int:
    """Publish one moderation per target; returns once Kafka has them all."""
    return await asyncio.to_thread(
        publish_moderations,
        request.app[OPS_SETTINGS],
        petition_id,
        targets,
        action=action,
        batch_id=batch_id,
        reason=reason,
        actor=actor,
    )


async def moderation_history(request: web.Request) -> web.Response:
    rows = await asyncio.to_thread(
        request.app[OPS_MODERATION].history, request.match_info["petition_id"]
    )
    return web.json_response(rows)


async def rejections(request: web.Request) -> web.Response:
    body = await request.json()
    positions = [(int(p), int(o), int(i)) for p, o, i in body["positions"]]
    rows = await asyncio.to_thread(
        request.app[OPS_AUDIT].rejections_at, str(body["topic"]), positions
    )
    return web.json_response(rows)


def _rebuild_of(request: web.Request) -> Rebuild:
    rebuild = request.app[OPS_REBUILD]
    if rebuild is None:
        raise JsonRefusal(409, "this serve process runs no sink; rebuild where the sink runs")
    return rebuild


async def start_rebuild(request: web.Request) -> web.Response:
    rebuild = _rebuild_of(request)
    try:
        status = rebuild.start()
    except RebuildRunning as exc:
        return json_error(409, str(exc), **rebuild.status.as_json())
    return web.json_response(status.as_json(), status=202)


async def rebuild_status(request: web.Request) -> web.Response:
    return web.json_response(_rebuild_of(request).status.as_json())
