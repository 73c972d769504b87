"""Addresses of our stores as they may be shown: never with a password.

A ClickHouse DSN (``https://user:password@host:8443/db``) or a list of Kafka bootstrap
servers ends up in log lines, command output and error messages; the password in it
must not. ``redact_dsn`` is the one function every such place calls.
"""

from __future__ import annotations

import re

#: ``scheme://userinfo@``: the userinfo runs to the last ``@`` of the address, so a
#: password with an unescaped ``@`` or ``/`` in it is hidden whole (an ``@`` further
#: on, in a path, hides more than needed: the safe side).
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^\s,]*)@")
#: Query parameters that carry a secret (clickhouse-connect reads ``password=``).
_SECRET_PARAMETER = re.compile(
    r"(?P<name>[?&;](?:password|passwd|pwd|pass|secret|token|access_token|api_key|key)=)"
    r"[^&;#\s]*",
    re.IGNORECASE,
)
HIDDEN = "***"


def redact_dsn(dsn: str) -> str:
    """``dsn`` with every password replaced by ``***``, the rest kept (scheme, user,
    host, port, path), so that it still says where the store is. Works on a
    comma-separated list too (Kafka's bootstrap servers); text without a password
    comes back unchanged."""

    def userinfo(match: re.Match[str]) -> str:
        user, has_password, _ = match["userinfo"].partition(":")
        return f"{match['scheme']}{user}{':' + HIDDEN if has_password else ''}@"

    return _SECRET_PARAMETER.sub(rf"\g<name>{HIDDEN}", _USERINFO.sub(userinfo, dsn))
