"""The worker's own port (``COUNTERSIGN_WORKER_PORT``): is Kafka reachable, and the
agents' metrics. The dashboard and the API are ``countersign serve``'s."""

from __future__ import annotations

from aiohttp import web

from streams.core.health import health_response, kafka_check, metrics_response
from streams.core.metrics import REGISTRY
from streams.core.settings import Settings


def build_worker_health(settings: Settings) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        return health_response({"kafka": await kafka_check(settings)})

    async def metrics(request: web.Request) -> web.Response:
        return metrics_response(request, settings, REGISTRY)

    app = web.Application()
    app.add_routes([web.get("/healthz", healthz), web.get("/metrics", metrics)])
    return app
