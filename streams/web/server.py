"""aiohttp routes of ``countersign serve`` (port 6066 by default), and the worker's
own two (health and metrics, port 6067).

The serve process owns the embedded ClickHouse (the sink writes it, the API reads it);
ClickHouse calls block, so they run in a thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sinks.clickhouse.queries import CountsReader
from streams import kafka
from streams.metrics import REGISTRY
from streams.settings import Settings

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
SSE_INTERVAL_SECONDS = 1.0
READER: web.AppKey[CountsReader] = web.AppKey("reader", CountsReader)
CONTEXT: web.AppKey[dict[str, Any]] = web.AppKey("context", dict)


def build(settings: Settings, reader: CountsReader, petitions: Any, sink: Any) -> web.Application:
    app = web.Application()
    app[READER] = reader
    app[CONTEXT] = {"settings": settings, "petitions": petitions, "sink": sink}
    app.add_routes(
        [
            web.get("/", dashboard),
            web.get("/api/petitions", list_petitions),
            web.get("/api/petitions/{petition_id}/counts", petition_counts),
            web.get("/api/petitions/{petition_id}/timeline", petition_timeline),
            web.get("/api/petitions/{petition_id}/events", petition_events),
            web.get("/healthz", healthz),
            web.get("/metrics", metrics),
        ]
    )
    if STATIC.is_dir():
        app.router.add_static("/static/", STATIC)
    return app


def build_worker_health(settings: Settings) -> web.Application:
    """The worker's port: is Kafka reachable, and the agents' metrics."""
    app = web.Application()
    app[CONTEXT] = {"settings": settings}
    app.add_routes([web.get("/healthz", worker_healthz), web.get("/metrics", metrics)])
    return app


def _petition_or_404(request: web.Request) -> str:
    petition_id = request.match_info["petition_id"]
    if request.app[CONTEXT]["petitions"].get(petition_id) is None:
        raise web.HTTPNotFound(
            text=json.dumps({"error": f"no petition {petition_id!r}"}),
            content_type="application/json",
        )
    return petition_id


async def dashboard(_: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html")


async def list_petitions(request: web.Request) -> web.Response:
    petitions = request.app[CONTEXT]["petitions"].all()
    totals = await asyncio.to_thread(request.app[READER].totals)
    return web.json_response(
        [
            {
                "petition_id": p["petition_id"],
                "title": p["title"],
                "opens_at": p["opens_at"].isoformat(),
                "closes_at": p["closes_at"].isoformat() if p["closes_at"] else None,
                "thresholds": p["thresholds"],
                "total": totals.get(p["petition_id"], 0),
            }
            for p in sorted(petitions.values(), key=lambda p: p["opens_at"])
        ]
    )


async def petition_counts(request: web.Request) -> web.Response:
    petition_id = _petition_or_404(request)
    return web.json_response(await asyncio.to_thread(request.app[READER].counts, petition_id))


async def petition_timeline(request: web.Request) -> web.Response:
    petition_id = _petition_or_404(request)
    minutes = int(request.query.get("minutes", "180"))
    series = await asyncio.to_thread(request.app[READER].timeline, petition_id, minutes)
    return web.json_response({"petition_id": petition_id, "per_minute": series})


async def petition_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: a ``counts`` event whenever the counts change."""
    petition_id = _petition_or_404(request)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
        }
    )
    await response.prepare(request)
    last_total, last_rejected = None, None
    try:
        while True:
            counts = await asyncio.to_thread(request.app[READER].counts, petition_id)
            if (counts["total"], counts["rejected"]) != (last_total, last_rejected):
                last_total, last_rejected = counts["total"], counts["rejected"]
                await response.write(f"event: counts\ndata: {json.dumps(counts)}\n\n".encode())
            else:
                await response.write(b": keep-alive\n\n")
            await asyncio.sleep(SSE_INTERVAL_SECONDS)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return response


async def _kafka_check(settings: Settings) -> dict[str, Any]:
    def broker() -> int:
        return len(kafka.admin_client(settings).list_topics(timeout=2).brokers)

    try:
        return {"ok": True, "brokers": await asyncio.to_thread(broker)}
    except Exception as exc:
        return {"ok": False, "error": str(exc)}


def _health(checks: dict[str, Any]) -> web.Response:
    ok = all(check["ok"] for check in checks.values())
    return web.json_response({"ok": ok, "checks": checks}, status=200 if ok else 503)


async def worker_healthz(request: web.Request) -> web.Response:
    return _health({"kafka": await _kafka_check(request.app[CONTEXT]["settings"])})


async def healthz(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    checks: dict[str, Any] = {"kafka": await _kafka_check(context["settings"])}
    try:
        await asyncio.to_thread(request.app[READER].client.command, "SELECT 1")
        checks["clickhouse"] = {"ok": True}
    except Exception as exc:
        checks["clickhouse"] = {"ok": False, "error": str(exc)}
    sink = context["sink"]
    if sink is not None:
        stalled = sink.stats.stalled_since is not None
        try:
            lag = await asyncio.to_thread(sink.lag)
        except Exception as exc:
            lag = None
            log.warning("cannot read the sink's lag: %s", exc)
        checks["sink"] = {"ok": not stalled, "rows": sink.stats.rows, "lag": lag}
    return _health(checks)


async def metrics(_: web.Request) -> web.Response:
    return web.Response(
        body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )
