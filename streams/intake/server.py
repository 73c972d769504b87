"""``countersign intake``: the HTTP edge where web forms and backends hand in signatures.

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
import json
import logging
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import aiohttp_cors
from aiohttp import web
from multidict import MultiDictProxy

from streams.catalogue.follower import PetitionLookup
from streams.core.answers import JsonRefusal, json_error
from streams.core.capped_site import CappedSite
from streams.core.clientip import client_ip, networks, rate_bucket
from streams.core.errors import (
    Backpressure,
    CrossSiteRefused,
    InvalidSignature,
    PublishFailed,
    RateLimited,
    ShuttingDown,
)
from streams.core.health import metrics_response
from streams.core.redact import redact_dsn
from streams.core.settings import Settings
from streams.core.signals import until_terminated
from streams.core.topics import create_topics
from streams.intake import pages
from streams.intake.confirm import Confirmations, confirm
from streams.intake.crosssite import claimed_origin, is_own_or_allowed
from streams.intake.formtoken import FORM_TOKEN, FormTokens
from streams.intake.metrics import (
    BODIES_TIMED_OUT,
    CONNECTIONS_REFUSED,
    INTAKE_REGISTRY,
    LATENCY,
    REQUESTS,
    RESENDS,
    SURGES,
)
from streams.intake.ratelimit import RateLimiter
from streams.intake.resends import RecentSubmissions, same_submission
from streams.intake.surge import SurgeDetector
from streams.publish import AsyncPublisher, Receipt, Signature
from streams.publish.publisher import RETRY_AFTER_SECONDS
from streams.publish.signature import RESEND_HEADER
from streams.rules.petitions import MAX_EVENT_BYTES
from streams.rules.submission import MAX_LOCALE_LENGTH

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Request bodies over this are refused with 413 before they are parsed.
MAX_BODY_BYTES = MAX_EVENT_BYTES
#: A user agent is kept for abuse analysis, not in full.
MAX_USER_AGENT = 512
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class Intake:
    """The intake's state: settings, catalogue, publisher, rate limiter, and the
    recent submissions that answer identical resends."""

    def __init__(
        self, settings: Settings, petitions: PetitionLookup, publisher: AsyncPublisher
    ) -> None:
        self.settings = settings
        self.petitions = petitions
        self.publisher = publisher
        self.limiter = RateLimiter(settings.rate_limits)
        self.confirmations = Confirmations(settings, publisher)
        self.recent: RecentSubmissions[Receipt] = RecentSubmissions(
            settings.intake_resend_window_seconds, settings.intake_resend_max_entries
        )
        self.trusted = networks(settings.trusted_proxies)
        self.tokens = FormTokens(
            settings.signing_key.get_secret_value(), settings.intake_form_token_max_age_seconds
        )
        # Set when the intake begins to stop (see ``within``).
        self.stopping = asyncio.Event()
        self.surges = SurgeDetector(
            window_seconds=settings.intake_surge_window_seconds,
            baseline_seconds=settings.intake_surge_baseline_seconds,
            factor=settings.intake_surge_factor,
            min_signatures=settings.intake_surge_min_signatures,
        )

    def client(self, request: web.Request) -> str | None:
        return client_ip(request.remote, request.headers.get("X-Forwarded-For"), self.trusted)

    def bucket(self, ip: str | None) -> str | None:
        """The network a client is rate-limited as (signatures and confirm links)."""
        return rate_bucket(
            ip,
            ipv4_prefix=self.settings.intake_ipv4_prefix,
            ipv6_prefix=self.settings.intake_ipv6_prefix,
        )

    def check_origin(self, request: web.Request) -> None:
        """``CrossSiteRefused`` when a browser says the post comes from a site that is
        neither the intake nor one of ``intake_cors_origins``."""
        origin = claimed_origin(request.headers.get("Origin"), request.headers.get("Referer"))
        if origin is not None and not is_own_or_allowed(
            origin, request.host, self.settings.cors_origins
        ):
            raise CrossSiteRefused(
                f"this form was sent from another site ({origin}); "
                "please check it and send it again here"
            )

    def form(
        self, petition: dict[str, Any], *, embed: bool, status: int = 200, **page: Any
    ) -> web.Response:
        """The sign form with a fresh token (``pages.render_form`` takes ``page``)."""
        token = self.tokens.issue(petition["petition_id"])
        return pages.render_form(petition, embed=embed, form_token=token, status=status, **page)

    async def submit(self, signature: Signature) -> bool:
        """Answer an identical resend with its first's outcome, else rate-limit and
        publish; returns once Kafka has the event (or raises why not): True when it
        was an identical resend, answered without publishing again.

        The limiter's slot is keyed by the client's network (``rate_bucket``) and
        carries the submission as its token, so a resend that is no longer
        remembered still takes no second slot. The publishing runs as a task of its
        own, shielded from the request: a client that hangs up does not cancel it,
        and resends waiting for it hear the same outcome. If Kafka does not take the
        event, the slot is given back and the submission forgotten.
        """
        token = same_submission(signature)
        now = time.monotonic()
        first = self.recent.get(token, now)
        if first is not None:
            RESENDS.inc()
            await asyncio.shield(first)
            return True
        key = (self.bucket(signature.client_ip), signature.petition_id)
        stamp = self.limiter.acquire(key, now, token)
        publishing = asyncio.ensure_future(self.publisher.publish(signature))
        if stamp is not None:

            def release_unless_taken(done: asyncio.Future[Receipt]) -> None:
                if done.cancelled() or done.exception() is not None:
                    self.limiter.release(key, stamp)

            publishing.add_done_callback(release_unless_taken)
        self.recent.add(token, publishing, now)
        await asyncio.shield(publishing)
        self.watch_for_surges(signature)
        return False

    def watch_for_surges(self, signature: Signature) -> None:
        """Count a signature Kafka took; tell ops of a surge it starts (refuse nobody)."""
        for surge in self.surges.observe(signature.petition_id, signature.email, time.time()):
            SURGES.labels("domain" if surge.domain else "petition").inc()
            log.warning(surge.describe(self.settings.intake_surge_window_seconds))


INTAKE: web.AppKey[Intake] = web.AppKey("intake", Intake)


def refusal(exc: Backpressure | PublishFailed) -> tuple[int, str, float]:
    """(status, detail, Retry-After) of a signature that was not taken now."""
    if isinstance(exc, Backpressure):
        return (429 if isinstance(exc, RateLimited) else 503), exc.detail, exc.retry_after
    if exc.possibly_persisted:
        detail = (
            "Kafka did not confirm in time and may hold the signature: resend the same "
            "signature_id, it is counted once"
        )
        return 504, detail, RETRY_AFTER_SECONDS
    return 503, "Kafka did not take the signature; try again", RETRY_AFTER_SECONDS


def wants_html(request: web.Request) -> bool:
    """A browser posting the form without JavaScript (it asks for HTML first)."""
    accept = request.headers.get("Accept", "")
    return request.content_type in FORM_TYPES and "text/html" in accept.split(",")[0]


async def within(
    request: web.Request, seconds: float, stopping: asyncio.Event, reading: Awaitable[T]
) -> T:
    """``reading`` (of ``request``'s body), or 408 if it takes more than ``seconds``:
    a client that trickles its body (slowloris) holds a handler no longer than that.

    ``ShuttingDown`` when the intake begins to stop before the body is all here:
    a closing aiohttp connection drops the bytes that are still to come, so waiting
    for them would only turn a shutdown into a misleading 408.
    """
    if request.content.is_eof():  # the usual case: the body came with the head
        return await reading
    read = asyncio.ensure_future(reading)
    stop = asyncio.ensure_future(stopping.wait())
    try:
        done, _ = await asyncio.wait(
            (read, stop), timeout=seconds, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        stop.cancel()
    if read in done:
        return read.result()
    read.cancel()
    if stop in done:
        raise ShuttingDown(
            "the intake is restarting and did not receive the whole request; send it again",
            RETRY_AFTER_SECONDS,
        )
    raise web.HTTPRequestTimeout()


async def read_fields(
    request: web.Request, timeout: float, stopping: asyncio.Event
) -> dict[str, Any]:
    """The submitted fields, from JSON or a form, read within ``timeout`` seconds (see
    ``within``); ``InvalidSignature`` when the body cannot be read as either (aiohttp
    raises 413 itself past ``client_max_size``)."""
    if request.content_type == "application/json":
        raw = await within(request, timeout, stopping, request.read())
        try:
            data = json.loads(raw)
        except RecursionError:  # "[[[[..." deeper than the interpreter's stack
            raise InvalidSignature({"body": "JSON nested too deeply"}) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidSignature({"body": f"not valid JSON ({exc})"}) from None
        if not isinstance(data, dict):
            raise InvalidSignature({"body": "send a JSON object of fields"})
        return data
    if request.content_type in FORM_TYPES:
        try:
            form: MultiDictProxy[Any] = await within(request, timeout, stopping, request.post())
        except web.HTTPException:
            raise
        except Exception as exc:  # bad charset, bad multipart framing, ...: any garbage
            raise InvalidSignature({"body": f"not a readable form ({exc})"}) from None
        fields: dict[str, Any] = {}
        for name in form:
            value = form.getone(name)
            fields[name] = value if isinstance(value, str) else object()  # a file upload
        return fields
    raise JsonRefusal(415, "send application/json or a form (x-www-form-urlencoded)")


def accept_language(request: web.Request) -> str | None:
    first = request.headers.get("Accept-Language", "").split(",")[0].split(";")[0].strip()
    return first[:MAX_LOCALE_LENGTH] or None


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
    return intake.form(petition, embed=embed)


async def thanks(request: web.Request) -> web.Response:
    """GET /petitions/{id}/thanks — where the no-JavaScript form lands after a 202."""
    intake = request.app[INTAKE]
    petition_id = request.match_info["petition_id"]
    petition = intake.petitions.get(petition_id)
    if petition is None:  # a closed petition still thanks those who signed in time
        return pages.render_problem(pages.unknown_petition(petition_id), embed=False)
    return pages.render_thanks(
        petition,
        request.query.get("signature_id", ""),
        embed=request.query.get("embed") == "1",
    )


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
        intake.check_origin(request)
        fields = await read_fields(
            request, intake.settings.intake_body_timeout_seconds, intake.stopping
        )
        if request.content_type in FORM_TYPES:
            intake.tokens.check(fields.get(FORM_TOKEN), petition_id)
        signature = Signature.from_fields(
            petition_id,
            fields,
            source="web-form" if request.content_type in FORM_TYPES else "api",
            client_ip=intake.client(request),
            user_agent=(request.headers.get("User-Agent") or "")[:MAX_USER_AGENT] or None,
            locale=accept_language(request),
            referrer=request.headers.get("Referer"),
        )
        remembered = await intake.submit(signature)
    except InvalidSignature as exc:
        if html:
            return intake.form(petition, embed=embed, values=fields, errors=exc.errors, status=400)
        return json_error(400, "the signature has errors", errors=exc.errors)
    except CrossSiteRefused as exc:
        log.info("403 for %s: %s", petition_id, exc.detail)
        if html:
            return intake.form(petition, embed=embed, values=fields, notice=exc.detail, status=403)
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
        location = f"/petitions/{petition_id}/thanks?signature_id={signature.signature_id}"
        raise web.HTTPSeeOther(location + ("&embed=1" if embed else ""))
    headers = {RESEND_HEADER: "remembered"} if remembered else {}
    return web.json_response({"signature_id": signature.signature_id}, status=202, headers=headers)


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
        name = route_name(request)
        REQUESTS.labels(request.method, name, str(status)).inc()
        LATENCY.labels(request.method, name).observe(time.perf_counter() - started)


async def confirm_link(request: web.Request) -> web.Response:
    intake = request.app[INTAKE]

    def title_of(petition_id: str) -> str:
        petition = intake.petitions.get(petition_id)
        return petition_id if petition is None else str(petition["title"])

    client = intake.bucket(intake.client(request))
    return await confirm(request, intake.confirmations, client, title_of)


def build(intake: Intake) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[observe])
    app[INTAKE] = intake
    app.router.add_get("/petitions/{petition_id}/sign", sign_form)
    app.router.add_get("/petitions/{petition_id}/thanks", thanks)
    signatures = app.router.add_post("/petitions/{petition_id}/signatures", submit)
    app.router.add_get("/confirm/{token}", confirm_link)
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


async def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT; then stop accepting, finish the requests in flight
    and flush the producer, so no signer who got a 202 is lost."""
    # Like the worker, the intake may be the first process on a new cluster or prefix.
    await asyncio.to_thread(create_topics, settings)
    petitions = PetitionLookup(settings)
    await asyncio.to_thread(petitions.start)
    publisher = AsyncPublisher(
        settings,
        delivery_timeout=settings.intake_delivery_timeout_seconds,
        coalesce_seconds=settings.intake_coalesce_ms / 1000,
        coalesce_max=settings.intake_coalesce_max,
        coalesce_target=settings.intake_coalesce_target,
    )
    intake = Intake(settings, petitions, publisher)
    app = build(intake)

    async def close(_: web.Application) -> None:
        await intake.confirmations.close()
        remaining = await publisher.close()
        petitions.stop()
        log.info("intake stopped; %d events were not delivered", remaining)

    app.on_cleanup.append(close)
    runner = web.AppRunner(
        app,
        shutdown_timeout=30,
        access_log=None,
        # aiohttp closes a connection that idles, or has not sent a complete request
        # head, this long after it opened or after its last answer (slow headers)...
        keepalive_timeout=settings.intake_keepalive_timeout_seconds,
        # ... and reads what is left of an unread body no longer than a body may take.
        lingering_time=settings.intake_body_timeout_seconds,
    )
    await runner.setup()
    # A deep accept backlog: bursts of new connections wait instead of being dropped
    # and retried a second later (the benchmark saw that at aiohttp's default of 128).
    site = CappedSite(
        runner,
        settings.bind_host,
        settings.intake_port,
        max_connections=settings.intake_max_connections,
        on_refused=CONNECTIONS_REFUSED.inc,
        backlog=1024,
    )
    await site.start()
    log.info(
        "intake on http://%s:%d/ (form: /petitions/<id>/sign) -> %s at %s",
        settings.bind_host,
        settings.intake_port,
        publisher.topic,
        redact_dsn(settings.kafka_bootstrap_servers),
    )
    await until_terminated()
    log.info("stopping: finishing requests in flight and flushing Kafka")
    intake.stopping.set()
    await runner.cleanup()
