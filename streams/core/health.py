"""``/healthz`` and ``/metrics``, as every long-running process answers them, and the
ops token that guards ``/metrics`` and ``/ops`` (health is public: it says nothing
about signers; metrics say how the pipeline runs, which is for ops)."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from streams.core import kafka
from streams.core.answers import JsonRefusal
from streams.core.settings import Settings


async def kafka_check(settings: Settings) -> dict[str, Any]:
    """Whether a broker answers, as one entry of a health report."""

    def brokers() -> int:
        return len(kafka.admin_client(settings).list_topics(timeout=2).brokers)

    try:
        return {"ok": True, "brokers": await asyncio.to_thread(brokers)}
    except Exception as exc:
        return {"ok": False, "error": str(exc)}


def health_response(checks: dict[str, Any]) -> web.Response:
    """200 when every check is ok, else 503; the checks in the body either way."""
    ok = all(check["ok"] for check in checks.values())
    return web.json_response({"ok": ok, "checks": checks}, status=200 if ok else 503)


def ops_authorized(request: web.Request, settings: Settings) -> bool:
    """Whether the request carries ``Authorization: Bearer <COUNTERSIGN_OPS_TOKEN>``."""
    expected = f"Bearer {settings.ops_token.get_secret_value()}"
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), expected.encode())


def require_ops(request: web.Request, settings: Settings) -> None:
    """401 unless the request carries the ops token."""
    if not ops_authorized(request, settings):
        raise JsonRefusal(401, "this route needs Authorization: Bearer <ops token>")


def metrics_response(
    request: web.Request, settings: Settings, registry: CollectorRegistry
) -> web.Response:
    """Prometheus' text, for ops only (scrape with the ops token as bearer token)."""
    require_ops(request, settings)
    return web.Response(
        body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )
