"""Which site does a browser's post come from? The intake's own, or an allowed one.

Browsers say where a request comes from: ``Origin`` on every cross-site POST (and
on same-site ones), ``Referer`` otherwise unless a policy strips it. A post that
names another site is refused, unless that site is one of
``COUNTERSIGN_INTAKE_CORS_ORIGINS`` (campaign sites that embed the form or post
with JavaScript). A post that names no site at all is no browser's cross-site post
(campaign backends send JSON without either header) and passes; the form token
(``formtoken``) guards form posts that way.

The intake's own origin is the one the browser reached: the ``Host`` it sent. The
scheme is not compared (behind a TLS proxy the intake sees http, the browser says
https). Behind a proxy that rewrites ``Host``, list the public origin among the
allowed ones.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL or origin, lower case, without a default port;
    None for ``null`` and anything that names no host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a port out of range, brackets that do not close, ...
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if not scheme or not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def claimed_origin(origin: str | None, referer: str | None) -> str | None:
    """The site a browser says the request comes from: its Origin (``"null"`` stays
    ``"null"``, a site that hides itself), else the origin of its Referer; None when
    it names none."""
    if origin is not None and origin.strip():
        return normalize_origin(origin) or "null"
    if referer is not None and referer.strip():
        return normalize_origin(referer) or "null"
    return None


def is_own_or_allowed(origin: str, host: str | None, allowed: Collection[str]) -> bool:
    """Does ``origin`` (from ``claimed_origin``) name the intake itself, reached at
    ``host`` (the Host header), or a site in ``allowed`` (``*`` allows all)?"""
    if "*" in allowed:
        return True
    if origin == "null":
        return False
    if origin in {normalize_origin(site) for site in allowed}:
        return True
    if not host:
        return False
    scheme = origin.split("://", 1)[0]
    return normalize_origin(f"{scheme}://{host}") == origin
