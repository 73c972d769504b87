"""``countersign intake``: the HTTP edge where web forms and backends hand in signatures.

The HTTP side of the intake: routes, answers (HTML for a browser posting the form
without JavaScript, JSON for everyone else) and the middleware that counts and times
every request. The decision is ``streams.intake.service``'s; reading a body is
``streams.intake.body``'s; starting and stopping is ``streams.intake.app``'s.

One promise above all: a ``202`` (or the thank-you page) only after Kafka's delivery
report says the event is on ``signatures.submitted``. Everything else is an honest
no: ``400`` with per-field errors, ``403`` for a browser's post from another site or
a form without its token (``crosssite``, ``formtoken``), ``413`` for a body over the
limit, ``429`` when a client signs too often, ``503`` (with ``Retry-After``) when
Kafka cannot take the event, ``504`` when Kafka did not confirm in time and may hold
it (resend the same signature_id: it is counted once).

Browsers that post the HTML form without JavaScript get HTML back (the form again
with errors next to the fields, or a redirect to the thank-you page); everyone else
gets JSON.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp_cors
from aiohttp import web

from streams.core.answers import json_error
from streams.core.errors import (
    Backpressure,
    CrossSiteRefused,
    InvalidSignature,
    PublishFailed,
)
from streams.core.health import metrics_response
from streams.intake import pages, receipts
from streams.intake.body import FORM_TYPES, MAX_BODY_BYTES, accept_language, read_fields, wants_html
from streams.intake.confirm import confirm
from streams.intake.formtoken import FORM_TOKEN
from streams.intake.metrics import BODIES_TIMED_OUT, INTAKE_REGISTRY, request_metrics
from streams.intake.service import Intake, refusal
from streams.intake.withdraw import withdraw, withdraw_page
from streams.publish import Signature
from streams.publish.signature import RESEND_HEADER

log = logging.getLogger(__name__)
#: A user agent is kept for abuse analysis, not in full.
MAX_USER_AGENT = 512


INTAKE: web.AppKey[Intake] = web.AppKey("intake", Intake)


def client_of(request: web.Request) -> str | None:
    """The request's client, as the intake believes it (``Intake.client``)."""
    return request.app[INTAKE].client(request.remote, request.headers.get("X-Forwarded-For"))


def form_page(
    intake: Intake, petition: dict[str, Any], *, embed: bool, status: int = 200, **page: Any
) -> web.Response:
    """The sign form with a fresh token (``pages.render_form`` takes ``page``)."""
    token = intake.tokens.issue(petition["petition_id"])
    settings = intake.settings
    receipt_page = settings.receipt_page_url if settings.transparency_log else None
    return pages.render_form(
        petition, embed=embed, form_token=token, status=status, receipt_page=receipt_page, **page
    )


async def sign_form(request: web.Request) -> web.Response:
    """GET /petitions/{id}/sign — the accessible HTML form (``?embed=1`` for iframes)."""
    intake = request.app[INTAKE]
    petition_id = request.match_info["petition_id"]
    embed = request.query.get("embed") == "1"
    petition = intake.petitions.get(petition_id)
    problem = pages.petition_problem(petition, petition_id)
    if problem is not None:
        return pages.render_problem(problem, embed=embed)
    assert petition is not None
    return form_page(intake, petition, embed=embed)


async def thanks(request: web.Request) -> web.Response:
    """GET /petitions/{id}/thanks — where the no-JavaScript form lands after a 202."""
    intake = request.app[INTAKE]
    petition_id = request.match_info["petition_id"]
    petition = intake.petitions.get(petition_id)
    if petition is None:  # a closed petition still thanks those who signed in time
        return pages.render_problem(pages.unknown_petition(petition_id), embed=False)
    receipt = receipts.from_query(intake.settings, petition_id, request.query)
    return pages.render_thanks(
        petition,
        request.query.get("signature_id", ""),
        receipt=None if receipt is None else receipts.links(intake.settings, receipt),
        embed=request.query.get("embed") == "1",
    )


async def receipt(request: web.Request) -> web.Response:
    """GET /petitions/{id}/receipt — the thank-you page's receipt, as a file to keep."""
    intake = request.app[INTAKE]
    petition_id = request.match_info["petition_id"]
    if intake.petitions.get(petition_id) is None:
        return json_error(404, f"no petition {petition_id!r}")
    return receipts.download(intake.settings, petition_id, request.query)


async def submit(request: web.Request) -> web.StreamResponse:  # noqa: PLR0911
    """POST /petitions/{id}/signatures — 202 once Kafka has the event."""
    intake = request.app[INTAKE]
    petition_id = request.match_info["petition_id"]
    html = wants_html(request)
    embed = request.query.get("embed") == "1"
    petition = intake.petitions.get(petition_id)
    problem = pages.petition_problem(petition, petition_id)
    if problem is not None:
        if html:
            return pages.render_problem(problem, embed=embed)
        return json_error(problem.status, problem.message)
    assert petition is not None
    fields: dict[str, Any] = {}
    signature: Signature | None = None
    try:
        intake.check_origin(
            request.headers.get("Origin"), request.headers.get("Referer"), request.host
        )
        fields = await read_fields(
            request, intake.settings.intake_body_timeout_seconds, intake.stopping
        )
        if request.content_type in FORM_TYPES:
            intake.tokens.check(fields.get(FORM_TOKEN), petition_id)
        signature = Signature.from_fields(
            petition_id,
            fields,
            source="web-form" if request.content_type in FORM_TYPES else "api",
            client_ip=client_of(request),
            user_agent=(request.headers.get("User-Agent") or "")[:MAX_USER_AGENT] or None,
            locale=accept_language(request),
            referrer=request.headers.get("Referer"),
        )
        remembered = await intake.submit(signature)
    except InvalidSignature as exc:
        if html:
            return form_page(
                intake, petition, embed=embed, values=fields, errors=exc.errors, status=400
            )
        return json_error(400, "the signature has errors", errors=exc.errors)
    except CrossSiteRefused as exc:
        log.info("403 for %s: %s", petition_id, exc.detail)
        if html:
            return form_page(
                intake, petition, embed=embed, values=fields, notice=exc.detail, status=403
            )
        return json_error(403, exc.detail)
    except (Backpressure, PublishFailed) as exc:
        status, detail, retry_after = refusal(exc)
        log.log(logging.WARNING if status >= 500 else logging.INFO, "%d for %s: %s",
                status, petition_id, detail)  # fmt: skip
        if html:
            return pages.render_busy(status, detail, retry_after, embed=embed)
        if signature is None:  # refused before the body was read
            return json_error(status, detail, retry_after=retry_after)
        # The id a resend must repeat (the intake mints one when the client sent none).
        return json_error(
            status, detail, retry_after=retry_after, signature_id=signature.signature_id
        )
    if html:
        raise web.HTTPSeeOther(
            receipts.thanks_location(
                intake.settings, petition_id, signature.signature_id, signature.country, embed=embed
            )
        )
    headers = {RESEND_HEADER: "remembered"} if remembered else {}
    answer: dict[str, Any] = {"signature_id": signature.signature_id}
    if intake.settings.transparency_log:
        answer["receipt"] = receipts.claim(
            intake.settings, petition_id, signature.signature_id, signature.country
        )
    return web.json_response(answer, status=202, headers=headers)


async def healthz(request: web.Request) -> web.Response:
    intake = request.app[INTAKE]
    # A dead delivery thread is as fatal as no broker: nothing can be acknowledged.
    delivering = intake.publisher.delivering
    up = intake.publisher.brokers_up and delivering
    return web.json_response(
        {
            "status": "ok" if up else "degraded",
            "kafka": "up" if intake.publisher.brokers_up else "down",
            "delivery_thread": "alive" if delivering else "dead",
            "in_flight": intake.publisher.in_flight,
            "petitions": len(intake.petitions.all()),
            "rate_limited_clients": len(intake.limiter),
            "recent_submissions": len(intake.recent),
            "surges": [
                surge.describe(intake.settings.intake_surge_window_seconds)
                for surge in intake.surges.current.values()
            ],
        },
        status=200 if up else 503,
    )


async def metrics(request: web.Request) -> web.Response:
    return metrics_response(request, request.app[INTAKE].settings, INTAKE_REGISTRY)


def route_name(request: web.Request) -> str:
    """``/confirm/{token}``, never the token: what logs and metrics name a request by."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def observe(request: web.Request, handler: Any) -> web.StreamResponse:
    """Count and time every request; turn a bug into a logged 500, never a dropped
    connection (the fuzz test asserts it never happens)."""
    started = time.perf_counter()
    status = 500
    try:
        response: web.StreamResponse = await handler(request)
        status = response.status
        return response
    except web.HTTPRequestEntityTooLarge:
        status = 413
        message = f"the request body is over {MAX_BODY_BYTES} bytes"
        if wants_html(request):
            return pages.render_problem(
                pages.Problem(413, "That is too much text", message), embed=False
            )
        return json_error(413, message)
    except web.HTTPRequestTimeout:
        status = 408
        BODIES_TIMED_OUT.inc()
        response = json_error(408, "the request body did not arrive in time")
        response.force_close()  # the rest of it is not worth waiting for
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = 499
        raise
    except Exception:
        # The route, not the path: a path may hold a confirmation token.
        log.exception("bug: %s %s", request.method, route_name(request))
        return json_error(500, "internal error (logged)")
    finally:
        requests, latency = request_metrics(request.method, route_name(request), status)
        requests.inc()
        latency.observe(time.perf_counter() - started)


async def confirm_link(request: web.Request) -> web.Response:
    intake = request.app[INTAKE]
    client = intake.bucket(client_of(request))
    return await confirm(request, intake.confirmations, client, _title_of(intake))


def _title_of(intake: Intake) -> Callable[[str], str]:
    def title_of(petition_id: str) -> str:
        petition = intake.petitions.get(petition_id)
        return petition_id if petition is None else str(petition["title"])

    return title_of


async def withdraw_link(request: web.Request) -> web.Response:
    intake = request.app[INTAKE]
    return await withdraw_page(request, intake.withdrawals, _title_of(intake))


async def withdraw_post(request: web.Request) -> web.Response:
    intake = request.app[INTAKE]
    client = intake.bucket(client_of(request))
    return await withdraw(request, intake.withdrawals, client, _title_of(intake))


def build(intake: Intake) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[observe])
    app[INTAKE] = intake
    # aiohttp tries the routes under one prefix in the order they were added: the
    # hot one first (the other three were 4 % of a signature's CPU, py-spy --gil).
    signatures = app.router.add_post("/petitions/{petition_id}/signatures", submit)
    app.router.add_get("/petitions/{petition_id}/sign", sign_form)
    app.router.add_get("/petitions/{petition_id}/thanks", thanks)
    app.router.add_get("/petitions/{petition_id}/receipt", receipt)
    app.router.add_get("/confirm/{token}", confirm_link)
    app.router.add_get("/withdraw/{token}", withdraw_link)
    app.router.add_post("/withdraw/{token}", withdraw_post)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_static("/static/", pages.STATIC)
    origins = intake.settings.cors_origins

    async def set_policy(request: web.Request, response: web.StreamResponse) -> None:
        if response.content_type == "text/html":
            embed = request.query.get("embed") == "1"
            policy = pages.content_security_policy(embed, origins)
            response.headers["Content-Security-Policy"] = policy

    app.on_response_prepare.append(set_policy)
    cors = aiohttp_cors.setup(
        app,
        defaults={
            origin: aiohttp_cors.ResourceOptions(  # type: ignore[no-untyped-call]
                allow_headers=("Content-Type", "Accept"),
                expose_headers=("Retry-After",),
                allow_methods=("POST",),
            )
            for origin in intake.settings.cors_origins
        },
    )
    cors.add(signatures)
    return app
