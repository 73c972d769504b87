"""The one shape of an HTTP error answer, for the intake, the API and ``/ops``:
``{"error": message, ...}`` as JSON, with ``Retry-After`` (and ``retry_after`` in the
body) when the client should come back later."""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web


def _parts(
    message: str, retry_after: float | None, extra: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    body: dict[str, Any] = {"error": message, **extra}
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        body["retry_after"] = round(retry_after, 1)
    return body, headers


def json_error(
    status: int, message: str, *, retry_after: float | None = None, **extra: Any
) -> web.Response:
    """The error answer, to return from a handler."""
    body, headers = _parts(message, retry_after, extra)
    return web.json_response(body, status=status, headers=headers)


class JsonRefusal(web.HTTPException):
    """The error answer as an exception, to raise from deep inside a handler (aiohttp
    sends an ``HTTPException`` as the response it is)."""

    def __init__(
        self, status: int, message: str, *, retry_after: float | None = None, **extra: Any
    ) -> None:
        self.status_code = status  # read by HTTPException.__init__
        body, headers = _parts(message, retry_after, extra)
        super().__init__(headers=headers, text=json.dumps(body), content_type="application/json")


def required_text(body: dict[str, Any], name: str) -> str:
    """A field of a JSON body that must be non-blank text, stripped (``/ops`` actions
    name who asked: the audit trail keeps it); 400 otherwise."""
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise JsonRefusal(400, f"{name} is needed (the audit trail keeps it)")
    return value.strip()
