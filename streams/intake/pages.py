"""The HTML pages of the intake: the sign form, the thank-you page, friendly refusals.

Jinja2 with autoescaping renders ``templates/``; whatever a signer typed goes back
into the form escaped. The pages work without JavaScript; ``static/sign.js`` only
makes them nicer (inline errors and thanks without a page load).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import pycountry
from aiohttp import web

from streams.catalogue.store import window
from streams.intake.formtoken import FORM_TOKEN
from streams.intake.receipts import ReceiptLinks
from streams.rules.countries import assigned_codes
from streams.rules.petitions import WindowState, window_state
from streams.rules.submission import FIELD_LIMITS, FIELDS, HONEYPOT, MAX_SIGNATURE_ID_LENGTH

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True)
class Problem:
    status: int
    title: str
    message: str


@cache
def country_choices() -> list[tuple[str, str]]:
    """``[(code, name), ...]`` by name: every code the rules accept."""
    names = {c.alpha_2: getattr(c, "common_name", c.name) for c in pycountry.countries}
    names["XK"] = "Kosovo"
    return sorted(((code, names[code]) for code in assigned_codes()), key=lambda c: c[1])


def unknown_petition(petition_id: str) -> Problem:
    return Problem(
        404,
        "Petition not found",
        f"There is no petition called “{petition_id}”. Check the link you followed.",
    )


def petition_problem(petition: dict[str, Any] | None, petition_id: str) -> Problem | None:
    """Why a petition cannot be signed right now, or None."""
    if petition is None:
        return unknown_petition(petition_id)
    state = window_state(window(petition), datetime.now(UTC))
    if state is WindowState.NOT_OPEN:
        return Problem(
            403,
            "Not open yet",
            f"“{petition['title']}” opens for signatures on {_day(petition['opens_at'])}.",
        )
    if state is WindowState.CLOSED:
        return Problem(
            410,
            "This petition has closed",
            f"“{petition['title']}” stopped taking signatures on {_day(petition['closes_at'])}. "
            "Thank you for caring.",
        )
    return None


def _day(moment: datetime) -> str:
    return moment.strftime("%-d %B %Y, %H:%M UTC")


def content_security_policy(embed: bool, origins: list[str]) -> str:
    """The CSP of a page: its own script and style only (no inline ones, so injected
    markup cannot run), posts and fetches to itself only, and framing by nobody, but
    for the ``?embed=1`` variant on the configured ``origins``."""
    ancestors = " ".join(origins) if embed and origins else "'none'"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; "
        f"frame-ancestors {ancestors}"
    )


def render(template: str, *, status: int = 200, embed: bool, **context: Any) -> web.Response:
    html = ENVIRONMENT.get_template(template).render(embed=embed, **context)
    return web.Response(
        text=html,
        status=status,
        content_type="text/html",
        headers={
            "Referrer-Policy": "strict-origin-when-cross-origin",
            "X-Content-Type-Options": "nosniff",
        },
    )


def render_form(
    petition: dict[str, Any],
    *,
    embed: bool,
    form_token: str,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
    receipt_page: str | None = None,
) -> web.Response:
    """The sign form; ``form_token`` is this render's (``formtoken``), ``notice`` a
    message above the form (why it came back), ``receipt_page`` where the thanks
    sends a signer to check their receipt (None: no public logs, no receipts)."""
    values = {k: v for k, v in (values or {}).items() if isinstance(v, str)}
    # The idempotency key is minted with the form: submitting twice (a double click,
    # a reload) repeats it, and the pipeline counts the signature once.
    values.setdefault("signature_id", str(uuid.uuid4()))
    return render(
        "sign.html",
        status=status,
        embed=embed,
        petition=petition,
        values=values,
        errors=errors or {},
        notice=notice,
        form_token=form_token,
        receipt_page=receipt_page,
        form_token_field=FORM_TOKEN,
        labels=FIELDS,
        honeypot=HONEYPOT,
        countries=country_choices(),
        limits=FIELD_LIMITS,
    )


def render_thanks(
    petition: dict[str, Any], signature_id: str, *, receipt: ReceiptLinks | None, embed: bool
) -> web.Response:
    """The thank-you page; with the public logs on, the signer's receipt (links)."""
    shown = signature_id[:MAX_SIGNATURE_ID_LENGTH]
    return render(
        "thanks.html", embed=embed, petition=petition, signature_id=shown, receipt=receipt
    )


def render_confirmed(
    title: str, when: datetime, *, again: bool, receipt_page: str | None = None
) -> web.Response:
    """After a confirmation link: thanks, or (``again``) that it was confirmed before;
    with the public logs on, where the receipt the signer got when signing is checked
    (the link's claim does not hold their country, which the receipt is made of)."""
    return render(
        "confirmed.html",
        embed=False,
        title=title,
        when=_day(when),
        again=again,
        receipt_page=receipt_page,
    )


def render_withdraw(title: str, *, done: bool, erased: bool = False) -> web.Response:
    """A withdrawal link's page: what the button does, or that it was done (and
    whether there was sealed personal data to erase)."""
    return render("withdraw.html", embed=False, title=title, done=done, erased=erased)


def render_problem(problem: Problem, *, embed: bool) -> web.Response:
    return render("problem.html", status=problem.status, embed=embed, problem=problem)


def render_broken_link() -> web.Response:
    """A mailed link (confirm, withdraw) that is not one of ours, often cut short."""
    return render_problem(
        Problem(
            400,
            "This link does not work",
            "It may have been cut short by your mail program: copy the whole link from "
            "the mail into your browser's address bar.",
        ),
        embed=False,
    )


def render_busy(status: int, detail: str, retry_after: float, *, embed: bool) -> web.Response:
    seconds = max(1, math.ceil(retry_after))
    response = render(
        "problem.html",
        status=status,
        embed=embed,
        problem=Problem(
            status,
            "Please try again in a moment" if status != 429 else "Thank you, slow down a little",
            f"{detail}. You can send the form again in {seconds} s.",
        ),
    )
    response.headers["Retry-After"] = str(seconds)
    return response
