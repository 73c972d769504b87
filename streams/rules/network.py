"""The network a client address belongs to, for abuse analysis: an IPv4 /24 or an
IPv6 /64 (what one household or one cloud customer typically holds). The address
itself never travels past validate; its network does, so ops can see and undo an
attack from one place (``countersign sources``, ``invalidate --ip-prefix``)."""

from __future__ import annotations

import ipaddress

IPV4_PREFIX = 24
IPV6_PREFIX = 64


def network_of(address: str | None) -> str | None:
    """``203.0.113.0/24`` for ``203.0.113.7``; None for no or a garbled address."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
