"""Reading a request to the intake: the submitted fields (JSON or a form) within the
body timeout, whether a browser wants HTML back, and its first language."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

from aiohttp import web
from multidict import MultiDictProxy

from streams.core.answers import JsonRefusal
from streams.core.errors import InvalidSignature, ShuttingDown
from streams.publish.publisher import RETRY_AFTER_SECONDS
from streams.rules.petitions import MAX_EVENT_BYTES
from streams.rules.submission import MAX_LOCALE_LENGTH

T = TypeVar("T")

#: Request bodies over this are refused with 413 before they are parsed.
MAX_BODY_BYTES = MAX_EVENT_BYTES
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


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
