"""X-Forwarded-For is believed only from trusted proxies."""

from __future__ import annotations

import ipaddress

from streams.core.clientip import client_ip, networks, rate_bucket

PROXIES = networks(["127.0.0.1", "10.0.0.0/8"])


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_ip("203.0.113.9", "198.51.100.1", []) == "203.0.113.9"


def test_an_untrusted_peer_cannot_claim_another_address() -> None:
    assert client_ip("203.0.113.9", "198.51.100.1", PROXIES) == "203.0.113.9"


def test_a_trusted_proxy_names_the_client() -> None:
    assert client_ip("127.0.0.1", "198.51.100.1", PROXIES) == "198.51.100.1"


def test_a_chain_of_trusted_proxies_is_walked_from_the_right() -> None:
    # A client-supplied first entry (spoofed) is not believed: the hop that the first
    # trusted proxy saw is the client.
    header = "1.2.3.4, 198.51.100.1, 10.1.2.3"
    assert client_ip("127.0.0.1", header, PROXIES) == "198.51.100.1"


def test_garbage_in_the_header_stops_the_walk_at_the_last_trusted_hop() -> None:
    assert client_ip("127.0.0.1", "198.51.100.1, not-an-ip", PROXIES) == "127.0.0.1"


def test_ipv6_clients_are_understood() -> None:
    assert client_ip("127.0.0.1", "2001:db8::1", PROXIES) == "2001:db8::1"


def test_only_proxies_in_the_header_leaves_the_leftmost() -> None:
    assert client_ip("127.0.0.1", "10.0.0.5, 10.0.0.6", PROXIES) == "10.0.0.5"


def test_an_ipv4_client_is_limited_as_its_own_address() -> None:
    assert rate_bucket("198.51.100.7") == "198.51.100.7/32"


def test_every_address_of_an_ipv6_64_is_one_client() -> None:
    first = rate_bucket("2001:db8:1:2::1")
    assert first == "2001:db8:1:2::/64"
    assert rate_bucket("2001:db8:1:2:ffff:ffff:ffff:ffff") == first


def test_the_next_ipv6_64_is_another_client() -> None:
    assert rate_bucket("2001:db8:1:3::1") == "2001:db8:1:3::/64"


def test_the_prefixes_are_configurable() -> None:
    assert rate_bucket("2001:db8:1:2::1", ipv6_prefix=48) == "2001:db8:1::/48"
    assert rate_bucket("2001:db8:1:2::1", ipv6_prefix=128) == "2001:db8:1:2::1/128"
    assert rate_bucket("198.51.100.7", ipv4_prefix=24) == "198.51.100.0/24"


def test_an_ipv4_mapped_ipv6_address_is_the_ipv4_client() -> None:
    assert rate_bucket("::ffff:198.51.100.7") == "198.51.100.7/32"


def test_what_is_not_an_address_is_its_own_bucket() -> None:
    assert rate_bucket(None) is None
    assert rate_bucket("unix-socket") == "unix-socket"


def test_every_ipv4_prefix_names_the_network_ipaddress_names() -> None:
    addresses = ["0.0.0.0", "198.51.100.7", "203.0.113.255", "255.255.255.255", "10.1.2.3"]
    for address in addresses:
        for prefix in range(1, 33):
            expected = str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
            assert rate_bucket(address, ipv4_prefix=prefix) == expected


def test_an_address_ipaddress_refuses_is_no_address_here_either() -> None:
    for text in ["01.2.3.4", "1.2.3", "1.2.3.4.5", "256.1.1.1", "0x1.2.3.4", "1.2.3.4\x00"]:
        assert rate_bucket(text) == text
        assert client_ip(text, "198.51.100.1", PROXIES) == text
