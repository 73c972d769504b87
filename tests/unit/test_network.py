"""The network a signer's address belongs to (``streams.rules.network``): the /24 of
an IPv4 address, the /64 of an IPv6 one, the /24 of an IPv4-mapped IPv6 address."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.rules.network import network_of


def by_ip_network(address: str) -> str:
    """The same, as ``ipaddress`` spells it from the prefix (the slow, obvious way)."""
    ip = ipaddress.ip_address(address.strip("[]"))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.9", "198.51.100.0/24"),
        ("[2001:db8::1]", "2001:db8::/64"),
        (" 10.0.0.1 ", "10.0.0.0/24"),
    ],
)
def test_known_networks(address: str, network: str) -> None:
    assert network_of(address) == network


@pytest.mark.parametrize("address", [None, "", "localhost", "256.1.1.1", "1.2.3", "::g"])
def test_no_or_a_garbled_address_has_no_network(address: str | None) -> None:
    assert network_of(address) is None


@settings(max_examples=2000, deadline=None)
@given(st.ip_addresses().map(str) | st.ip_addresses(v=4).map(lambda ip: f"::ffff:{ip}"))
def test_every_address_gets_the_network_ipaddress_gives(address: str) -> None:
    assert network_of(address) == by_ip_network(address)


@settings(max_examples=3000, deadline=None)
@given(
    st.lists(
        st.text(alphabet="0123456789٣²x ", min_size=0, max_size=4), min_size=3, max_size=5
    ).map(".".join)
)
def test_anything_shaped_like_a_dotted_quad_gets_what_ipaddress_says(address: str) -> None:
    """The IPv4 fast path agrees with ``ipaddress`` on near misses too (leading zeros,
    octets over 255, other digits, too few or many octets)."""
    try:
        expected: str | None = by_ip_network(address.strip())
    except ValueError:
        expected = None
    assert network_of(address) == expected
