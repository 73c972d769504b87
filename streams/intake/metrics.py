"""Prometheus metrics of the intake (its own registry, served on its /metrics)."""

from __future__ import annotations

import functools
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

INTAKE_REGISTRY = CollectorRegistry()

REQUESTS = Counter(
    "countersign_intake_requests",
    "HTTP requests by method, route and status",
    ["method", "route", "status"],
    registry=INTAKE_REGISTRY,
)
LATENCY = Histogram(
    "countersign_intake_request_seconds",
    "Time from request to response (a 202 includes Kafka's acknowledgement)",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20),
    registry=INTAKE_REGISTRY,
)
RESENDS = Counter(
    "countersign_intake_resends_answered",
    "Identical resends answered with the first submission's outcome, not published again",
    registry=INTAKE_REGISTRY,
)
CONNECTIONS_REFUSED = Counter(
    "countersign_intake_connections_refused",
    "Connections answered 503 and closed because the intake had its cap open already",
    registry=INTAKE_REGISTRY,
)
BODIES_TIMED_OUT = Counter(
    "countersign_intake_bodies_timed_out",
    "Requests whose body did not arrive within the body timeout (408)",
    registry=INTAKE_REGISTRY,
)
SURGES = Counter(
    "countersign_intake_surges",
    "Surges seen: a petition's (kind=petition) or one email domain's signatures for a "
    "petition (kind=domain) far faster than in the hour before",
    ["kind"],
    registry=INTAKE_REGISTRY,
)

#: The methods a request is counted under; a client chooses the method, so any other
#: is counted as "other": the number of series stays bounded.
NAMED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_metrics(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The children of ``REQUESTS`` and ``LATENCY`` that count and time one kind of
    request: (method, the route's canonical name, status)."""
    return _children(method if method in NAMED_METHODS else "other", route, status)


@functools.cache
def _children(method: str, route: str, status: int) -> tuple[Any, Any]:
    """Looked up once per kind: ``labels`` takes a lock and builds a key on every call.
    Bounded: the app's routes, HTTP's statuses and ``NAMED_METHODS``."""
    return REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route)
