"""A signer's receipt where they sign (docs/transparency.md, "What a receipt proves").

With the public logs on, the intake hands every signer the first half of their
receipt once Kafka has their signature: the petition, the signature id, the country
and the salt, which are enough to find their leaf in the petition's log. The JSON
202 carries it; the thank-you page (with or without JavaScript) links to it as a
file to keep and to the ``/receipt`` page that checks it in the browser. The link
carries the receipt in its fragment, which the browser never sends to any server.

A receipt is made from the signature id and the country alone (the salt is keyed
by a secret), so the thank-you page is given both in its query: whoever knows a
signature id, a random value only its signer was shown, learns nothing new here.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from streams.core.answers import json_error
from streams.core.settings import Settings
from streams.rules import receipt_file
from streams.rules.countries import normalize_country
from streams.rules.reasons import RuleViolation
from streams.rules.submission import SIGNATURE_ID
from streams.rules.transparency import salt


def claim(settings: Settings, petition_id: str, signature_id: str, country: str) -> dict[str, Any]:
    """The first half of a signer's receipt, ``country`` as the worker will have it
    (upper case: the leaf is made from that)."""
    key = settings.transparency_salt_key.get_secret_value().encode()
    code = normalize_country(country)
    return receipt_file.claim(petition_id, signature_id, code, salt(key, signature_id))


def thanks_location(
    settings: Settings, petition_id: str, signature_id: str, country: str, *, embed: bool
) -> str:
    """Where the form without JavaScript lands after a 202: the thank-you page, told
    the country too when it hands out receipts."""
    query = {"signature_id": signature_id}
    if settings.transparency_log:
        query["country"] = normalize_country(country)
    if embed:
        query["embed"] = "1"
    return f"/petitions/{petition_id}/thanks?{urllib.parse.urlencode(query)}"


@dataclass(frozen=True)
class ReceiptLinks:
    """The thank-you page's two links: check the receipt, and keep it as a file."""

    check: str
    download: str


def links(settings: Settings, receipt: dict[str, Any]) -> ReceiptLinks:
    fragment = urllib.parse.urlencode({"receipt": json.dumps(receipt, separators=(",", ":"))})
    query = urllib.parse.urlencode(
        {"signature_id": receipt["signature_id"], "country": receipt["country"]}
    )
    return ReceiptLinks(
        check=f"{settings.receipt_page_url}#{fragment}",
        download=f"/petitions/{receipt['petition_id']}/receipt?{query}",
    )


def from_query(settings: Settings, petition_id: str, query: Any) -> dict[str, Any] | None:
    """The receipt a thank-you page's query names; None when the logs are off or the
    query does not name a signature id and a country."""
    signature_id, country = query.get("signature_id", ""), query.get("country", "")
    if not (settings.transparency_log and SIGNATURE_ID.match(signature_id)):
        return None
    try:
        return claim(settings, petition_id, signature_id, country)
    except RuleViolation:
        return None


def download(settings: Settings, petition_id: str, query: Any) -> web.Response:
    """``GET /petitions/{id}/receipt?signature_id=&country=``: the receipt as a file."""
    if not settings.transparency_log:
        return json_error(404, "this site keeps no public logs, so it gives no receipts")
    receipt = from_query(settings, petition_id, query)
    if receipt is None:
        return json_error(400, "?signature_id= and ?country= (a country code) name a receipt")
    return web.Response(
        text=json.dumps(receipt, indent=2) + "\n",
        content_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="receipt-{petition_id}.json"',
            "Cache-Control": "no-store",
        },
    )
