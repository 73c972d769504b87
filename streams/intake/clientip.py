"""Who is the client? ``X-Forwarded-For`` is believed only from trusted proxies.

Anyone can send the header, so a rate limit keyed on its first entry is worthless.
The standard walk: start at the TCP peer; while the current hop is a trusted proxy,
step one entry left in ``X-Forwarded-For``. The first untrusted hop is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(specs: Sequence[str]) -> list[Network]:
    """Parse ``["10.0.0.0/8", "127.0.0.1", "::1"]``; raises ValueError on a bad one."""
    return [ipaddress.ip_network(spec.strip(), strict=False) for spec in specs]


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def client_ip(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]
) -> str | None:
    """The address to attribute a request to (``peer`` when it is not a trusted proxy)."""
    current = _address(peer) if peer else None
    if current is None:
        return peer
    hops = [hop for hop in (forwarded_for or "").split(",") if hop.strip()]
    while any(current in network for network in trusted) and hops:
        previous = _address(hops.pop())
        if previous is None:  # garbage from a client: stop at the last trusted hop
            break
        current = previous
    return str(current)
