"""``/healthz`` and ``/metrics``, as every long-running process answers them."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from streams.core import kafka
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


def metrics_response(registry: CollectorRegistry) -> web.Response:
    return web.Response(
        body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )
