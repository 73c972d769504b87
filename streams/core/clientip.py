"""Who is the client? ``X-Forwarded-For`` is believed only from trusted proxies.

Shared by the intake (its rate limits) and ``serve`` (its cap on live streams per
client), so both see the same client behind the same proxies.

Anyone can send the header, so a rate limit keyed on its first entry is worthless.
The standard walk: start at the TCP peer; while the current hop is a trusted proxy,
step one entry left in ``X-Forwarded-For``. The first untrusted hop is the client.

And which addresses are one client? An IPv4 address usually is; an IPv6 host is
given a whole /64 and may send from any of its 2^64 addresses, so a limit per IPv6
address limits nothing. ``rate_bucket`` maps an address to the network it is
limited as.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def networks(specs: Sequence[str]) -> list[Network]:
    """Parse ``["10.0.0.0/8", "127.0.0.1", "::1"]``; raises ValueError on a bad one."""
    return [ipaddress.ip_network(spec.strip(), strict=False) for spec in specs]


def _address(text: str) -> Address | None:
    text = text.strip().strip("[]")
    try:
        # The usual client, a dotted quad, parsed in C: as strict as ipaddress (no
        # leading zeros, four parts), whose pure-Python parser was 8 % of the
        # intake's CPU per request (py-spy --gil at 1,500 requests/s).
        return ipaddress.IPv4Address(socket.inet_pton(socket.AF_INET, text))
    except (OSError, ValueError):
        pass
    try:
        return ipaddress.ip_address(text)
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


def rate_bucket(ip: str | None, *, ipv4_prefix: int = 32, ipv6_prefix: int = 64) -> str | None:
    """The network ``ip`` is rate-limited as (``"2001:db8:1:2::/64"``); anything that
    is not an address (a Unix socket peer, None) is its own bucket.

    An IPv4-mapped IPv6 address (``::ffff:198.51.100.7``, from a dual-stack socket)
    is the IPv4 client it maps, so it cannot dodge the IPv4 limit.
    """
    address = _address(ip) if ip else None
    if address is None:
        return ip
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.version == 4:  # the usual case, without building an IPv4Network
        mask = (0xFFFF_FFFF << (32 - ipv4_prefix)) & 0xFFFF_FFFF
        return f"{ipaddress.IPv4Address(int(address) & mask)}/{ipv4_prefix}"
    return str(ipaddress.ip_network((address, ipv6_prefix), strict=False))
