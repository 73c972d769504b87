"""aiohttp routes of ``countersign serve`` (port 6066 by default): the dashboard, the
JSON API, health and metrics.

The serve process owns the embedded ClickHouse (the sink writes it, the API reads it);
ClickHouse calls block, so they run in a thread. Timelines are read through a cache
of a few seconds (streams/web/cache.py) that the live feed shares: a timeline may
scan a year of rows, and anyone may ask for one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from sinks.clickhouse.audit import AuditQueries
from sinks.clickhouse.queries import BUCKETS, Bucket, CountsReader
from sinks.clickhouse.rebuild import Rebuild
from sinks.clickhouse.service import SinkService
from streams.catalogue.follower import PetitionLookup
from streams.core.answers import JsonRefusal
from streams.core.clientip import Network, client_ip, networks, rate_bucket
from streams.core.errors import Backpressure, RateLimited
from streams.core.health import health_response, kafka_check, metrics_response
from streams.core.metrics import REGISTRY
from streams.core.settings import Settings
from streams.web import log_routes, ops, ops_privacy
from streams.web.cache import Shared
from streams.web.live import TIMELINE_FRESH_SECONDS, LiveFeeds

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
#: The dashboard loads its own script, style and data only: no inline script or style
#: (``dashboard.js`` sizes the bars through the CSSOM, which the policy allows), no
#: form posts anywhere, and no site may frame it.
DASHBOARD_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: A live stream checks this often whether its viewer is still there (aiohttp does not
#: cancel a handler whose client left) ...
SSE_CHECK_SECONDS = 1.0
#: ... and says something at least this often, so proxies keep it open.
SSE_KEEPALIVE_SECONDS = 10.0
#: The dashboard's timeline: what ``/timeline`` answers without parameters, and what
#: the live feed sends.
DEFAULT_TIMELINE_MINUTES = 180
DEFAULT_BUCKET: Bucket = "minute"
#: The longest timeline one may ask for: a (leap) year of minutes.
MAX_TIMELINE_MINUTES = 366 * 24 * 60


@dataclass(frozen=True)
class Api:
    """What the routes read: passed in by ``countersign serve`` (streams/web/serve.py)."""

    settings: Settings
    reader: CountsReader
    petitions: PetitionLookup
    #: The sink this process runs, for its health; None on an API-only replica.
    sink: SinkService | None
    #: What the audit tools read (the /ops routes).
    audit: AuditQueries
    #: ``countersign rebuild``'s job; None without a sink.
    rebuild: Rebuild | None
    #: Erases signers' keys and runs retention (``/ops/erasures``, ``/ops/retention``);
    #: None: not offered here.
    privacy: ops_privacy.Privacy | None = None
    #: The petitions' public logs (``/api/keys``, ``/api/petitions/{id}/log/...``).
    logs: log_routes.Logs | None = None


#: A timeline's question: petition, minutes, bucket.
TimelineKey = tuple[str, int, Bucket]
Timelines = Shared[TimelineKey, dict[str, Any]]

API: web.AppKey[Api] = web.AppKey("api", Api)
FEEDS: web.AppKey[LiveFeeds] = web.AppKey("feeds", LiveFeeds)
TIMELINES: web.AppKey[Timelines] = web.AppKey("timelines", Shared)
#: The proxies whose X-Forwarded-For names the client (as the intake believes them).
TRUSTED: web.AppKey[list[Network]] = web.AppKey("trusted", list)


def build(api: Api) -> web.Application:
    app = web.Application()
    app[API] = api
    app[TRUSTED] = networks(api.settings.trusted_proxies)

    async def read_timeline(key: TimelineKey) -> dict[str, Any]:
        petition_id, minutes, bucket = key
        return await asyncio.to_thread(api.reader.timeline, petition_id, minutes, bucket)

    async def read_counts(petition_id: str) -> dict[str, Any]:
        return await asyncio.to_thread(api.reader.counts, petition_id)

    timelines = app[TIMELINES] = Shared(read_timeline, TIMELINE_FRESH_SECONDS)
    app[FEEDS] = LiveFeeds(
        read_counts,
        lambda petition_id: timelines.get((petition_id, DEFAULT_TIMELINE_MINUTES, DEFAULT_BUCKET)),
        api.settings.sse_max_connections,
        max_per_client=api.settings.sse_max_per_client,
    )
    # On shutdown, before aiohttp waits for the handlers: the streams then end at once.
    app.on_shutdown.append(stop_feeds)
    app.add_routes(
        [
            web.get("/", dashboard),
            web.get("/moderation", moderation_page),
            web.get("/receipt", receipt_page),
            web.get("/api/petitions", list_petitions),
            web.get("/api/petitions/{petition_id}/counts", petition_counts),
            web.get("/api/petitions/{petition_id}/timeline", petition_timeline),
            web.get("/api/petitions/{petition_id}/events", petition_events),
            web.get("/healthz", healthz),
            web.get("/metrics", metrics),
        ]
    )
    if api.logs is not None:
        log_routes.add_routes(app, api.logs)
    app.add_subapp("/ops/", ops.build(api.settings, api.audit, api.rebuild, api.privacy))
    if STATIC.is_dir():
        app.router.add_static("/static/", STATIC)
    app.on_response_prepare.append(set_policy)
    return app


def build_health(api: Api) -> web.Application:
    """The sink's process without the API (``countersign sink``): /healthz and /metrics."""
    app = web.Application()
    app[API] = api
    app.add_routes([web.get("/healthz", healthz), web.get("/metrics", metrics)])
    return app


async def stop_feeds(app: web.Application) -> None:
    await app[FEEDS].close()


async def set_policy(_: web.Request, response: web.StreamResponse) -> None:
    """Every answer carries the policy: harmless on JSON, and no page is left out."""
    response.headers["Content-Security-Policy"] = DASHBOARD_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"


async def _petition_or_404(request: web.Request) -> str:
    """The petition id of the path, or 404 once the catalogue is fresh and lacks it."""
    petition_id = request.match_info["petition_id"]
    if await request.app[API].petitions.known(petition_id) is None:
        raise JsonRefusal(404, f"no petition {petition_id!r}")
    return petition_id


async def dashboard(_: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html")


async def moderation_page(_: web.Request) -> web.StreamResponse:
    """The ops page (sources, invalidate, reinstate): a shell that holds no data; its
    script calls the /ops routes with the token the user types."""
    return web.FileResponse(STATIC / "moderation.html")


async def receipt_page(_: web.Request) -> web.StreamResponse:
    """A signer checks their receipt against the public log, in their own browser
    (``frontend/receipt.js``; docs/transparency.md)."""
    return web.FileResponse(STATIC / "receipt.html")


async def list_petitions(request: web.Request) -> web.Response:
    petitions = request.app[API].petitions.all()
    totals = await asyncio.to_thread(request.app[API].reader.totals)
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
    """``?cut=1`` adds what each country's numbers cover (``streams.rules.cut``), read
    with them: what ``countersign reconcile`` recounts the log up to."""
    petition_id = await _petition_or_404(request)
    with_cut = request.query.get("cut") == "1"
    reader = request.app[API].reader
    counts = await asyncio.to_thread(
        functools.partial(reader.counts, with_cut=with_cut), petition_id
    )
    return web.json_response(counts)


def _minutes_or_400(request: web.Request) -> int:
    """``?minutes=`` of the timeline: a whole number of minutes, a year at most."""
    given = request.query.get("minutes", str(DEFAULT_TIMELINE_MINUTES))
    whole = given.isascii() and given.isdigit() and len(given) <= 7
    if not (whole and 1 <= int(given) <= MAX_TIMELINE_MINUTES):
        raise JsonRefusal(
            400,
            f"minutes must be a whole number from 1 to {MAX_TIMELINE_MINUTES} (a year), "
            f"not {given[:20]!r}",
        )
    return int(given)


def _bucket_or_400(request: web.Request) -> Bucket:
    given = request.query.get("bucket", DEFAULT_BUCKET)
    if given not in BUCKETS:
        raise JsonRefusal(400, f"bucket must be one of {', '.join(BUCKETS)}, not {given[:20]!r}")
    return given


async def petition_timeline(request: web.Request) -> web.Response:
    petition_id = await _petition_or_404(request)
    minutes = _minutes_or_400(request)
    bucket = _bucket_or_400(request)
    return web.json_response(await request.app[TIMELINES].get((petition_id, minutes, bucket)))


def _client(request: web.Request) -> str | None:
    """The network the request comes from, as the intake counts a client."""
    settings = request.app[API].settings
    trusted = request.app[TRUSTED]
    address = client_ip(request.remote, request.headers.get("X-Forwarded-For"), trusted)
    return rate_bucket(
        address, ipv4_prefix=settings.intake_ipv4_prefix, ipv6_prefix=settings.intake_ipv6_prefix
    )


async def petition_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events from the petition's live feed (streams/web/live.py): its
    counts and timeline at once, then whenever they change. 429 past the client's
    cap of streams, 503 past the process's."""
    petition_id = await _petition_or_404(request)
    try:
        with request.app[FEEDS].watching(petition_id, _client(request)) as subscription:
            response = web.StreamResponse(
                headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
            )
            await response.prepare(request)
            quiet = 0.0
            while not request.app[FEEDS].closed and _connected(request):
                event = await subscription.next(SSE_CHECK_SECONDS)
                if event is not None:
                    await response.write(event.wire)
                    quiet = 0.0
                    continue
                quiet += SSE_CHECK_SECONDS
                if quiet >= SSE_KEEPALIVE_SECONDS:
                    await response.write(b": keep-alive\n\n")
                    quiet = 0.0
    except Backpressure as exc:
        status = 429 if isinstance(exc, RateLimited) else 503
        raise JsonRefusal(status, exc.detail, retry_after=exc.retry_after) from None
    except ConnectionResetError:
        pass  # the viewer left while we wrote
    return response


def _connected(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()


async def healthz(request: web.Request) -> web.Response:
    api = request.app[API]
    checks: dict[str, Any] = {"kafka": await kafka_check(api.settings)}
    try:
        await asyncio.to_thread(api.reader.client.command, "SELECT 1")
        checks["clickhouse"] = {"ok": True}
    except Exception as exc:
        checks["clickhouse"] = {"ok": False, "error": str(exc)}
    if api.sink is not None:
        checks["sink"] = sink_check(api.sink)
    return health_response(checks)


def sink_check(service: SinkService) -> dict[str, Any]:
    """The sink's entry of /healthz, from what it already knows: whether its thread
    runs and ClickHouse takes its writes; its lag is the background sampler's latest
    reading (with its age), never read here."""
    stats = service.sink.stats
    lag = service.lag.latest
    age = lag.age()
    stalled = stats.stalled_since is not None
    return {
        "ok": service.alive and not stalled,
        "alive": service.alive,
        **({"error": repr(service.failure)} if service.failure is not None else {}),
        "stalled": stalled,
        "partitions": service.sink.partitions,
        "rows": stats.rows,
        "lag": lag.value,
        "lag_age_seconds": None if age is None else round(age, 1),
        **({"lag_error": lag.error} if lag.error else {}),
    }


async def metrics(request: web.Request) -> web.Response:
    return metrics_response(request, request.app[API].settings, REGISTRY)
