"""Where a browser's post comes from: its own site, an allowed one, or another."""

from __future__ import annotations

from streams.intake.crosssite import claimed_origin, is_own_or_allowed, normalize_origin

CAMPAIGN = ["https://campaign.example"]


def test_origins_are_compared_in_one_spelling() -> None:
    assert normalize_origin("HTTPS://Sign.Example:443") == "https://sign.example"
    assert normalize_origin("http://sign.example:8080/path?q=1") == "http://sign.example:8080"
    assert normalize_origin("http://[2001:db8::1]:8080") == "http://[2001:db8::1]:8080"


def test_what_names_no_site_has_no_origin() -> None:
    assert normalize_origin("null") is None
    assert normalize_origin("not a url") is None
    assert normalize_origin("http://sign.example:99999") is None


def test_the_origin_header_comes_first() -> None:
    assert claimed_origin("https://a.example", "https://b.example/page") == "https://a.example"


def test_without_origin_the_referer_names_the_site() -> None:
    assert claimed_origin(None, "https://b.example/page?x=1") == "https://b.example"


def test_a_post_that_names_no_site_claims_none() -> None:
    assert claimed_origin(None, None) is None
    assert claimed_origin("", " ") is None


def test_a_hidden_or_garbled_site_is_null() -> None:
    assert claimed_origin("null", None) == "null"
    assert claimed_origin(None, "garbage") == "null"


def test_the_intakes_own_origin_is_the_host_the_browser_reached() -> None:
    assert is_own_or_allowed("http://127.0.0.1:8080", "127.0.0.1:8080", [])
    assert is_own_or_allowed("https://sign.example", "sign.example", [])
    assert is_own_or_allowed("https://sign.example", "sign.example:443", [])


def test_another_site_is_refused() -> None:
    assert not is_own_or_allowed("https://evil.example", "sign.example", CAMPAIGN)
    assert not is_own_or_allowed("http://127.0.0.1:9999", "127.0.0.1:8080", [])


def test_a_configured_site_is_allowed() -> None:
    assert is_own_or_allowed("https://campaign.example", "sign.example", CAMPAIGN)


def test_null_is_refused_unless_every_site_is_allowed() -> None:
    assert not is_own_or_allowed("null", "sign.example", CAMPAIGN)
    assert is_own_or_allowed("null", "sign.example", ["*"])


def test_without_a_host_only_the_configured_sites_pass() -> None:
    assert not is_own_or_allowed("https://sign.example", None, CAMPAIGN)
