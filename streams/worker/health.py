"""The worker's own port (``COUNTERSIGN_WORKER_PORT``): is Kafka reachable, is the
worker ready to handle records, and the agents' metrics. The dashboard and the API
are ``countersign serve``'s."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from streams.core.health import health_response, kafka_check, metrics_response
from streams.core.metrics import REGISTRY
from streams.core.settings import Settings

#: What a 503 of /readyz asks a client to wait before it asks again.
READY_RETRY_AFTER_SECONDS = 1


def build_worker_health(
    settings: Settings, unready_by: Callable[[], str | None]
) -> web.Application:
    """``/healthz``: the broker answers (a restart would not help while it does not).
    ``/readyz``: the worker holds its partitions and its tables are restored, so a
    record produced now is handled now; ``unready_by`` says what it waits for (a
    rolling update should wait for it before it stops the next worker)."""

    async def healthz(_: web.Request) -> web.Response:
        return health_response({"kafka": await kafka_check(settings)})

    async def readyz(_: web.Request) -> web.Response:
        waiting_for = unready_by()
        if waiting_for is None:
            return web.json_response({"ready": True})
        return web.json_response(
            {"ready": False, "waiting_for": waiting_for},
            status=503,
            headers={"Retry-After": str(READY_RETRY_AFTER_SECONDS)},
        )

    async def metrics(request: web.Request) -> web.Response:
        return metrics_response(request, settings, REGISTRY)

    app = web.Application()
    app.add_routes(
        [web.get("/healthz", healthz), web.get("/readyz", readyz), web.get("/metrics", metrics)]
    )
    return app
