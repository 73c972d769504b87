"""The intake counts every request by method, route and status; a client chooses the
method, so the metric must not grow a series for every made-up one."""

from __future__ import annotations

from streams.intake.metrics import INTAKE_REGISTRY, request_metrics

ROUTE = "/petitions/{petition_id}/signatures"


def count(method: str, route: str, status: str) -> float:
    labels = {"method": method, "route": route, "status": status}
    return INTAKE_REGISTRY.get_sample_value("countersign_intake_requests_total", labels) or 0.0


def test_a_request_is_counted_under_its_method_route_and_status() -> None:
    before = count("POST", ROUTE, "202")
    requests, _ = request_metrics("POST", ROUTE, 202)
    requests.inc()
    assert count("POST", ROUTE, "202") == before + 1


def test_a_made_up_method_is_counted_as_other() -> None:
    before = count("other", "unmatched", "405")
    for method in ("BREW", "PROPFIND", "X" * 40):
        requests, _ = request_metrics(method, "unmatched", 405)
        requests.inc()
    assert count("other", "unmatched", "405") == before + 3
    assert count("BREW", "unmatched", "405") == 0


def test_the_same_kind_of_request_gets_the_same_children() -> None:
    assert request_metrics("GET", "/healthz", 200) is request_metrics("GET", "/healthz", 200)
