"""``serve``'s limits on /metrics (the registry of streams/core/metrics.py): how often
each turned someone away, so an operator sees a cap that is too tight, or an abuser."""

from __future__ import annotations

from prometheus_client import Counter

from streams.core.metrics import REGISTRY

CONNECTIONS_REFUSED = Counter(
    "countersign_serve_connections_refused",
    "Connections answered 503 and closed because serve_max_connections were open",
    registry=REGISTRY,
)
SSE_REFUSED_PER_CLIENT = Counter(
    "countersign_sse_refused_per_client",
    "Viewers turned away with 429 because their network had sse_max_per_client streams",
    registry=REGISTRY,
)
