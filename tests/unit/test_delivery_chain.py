"""The delivery list's hash chain finds a removed, reordered or altered page."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from streams.audit.delivery import Cover, Page, Signer, chain, first_break, paginate

COVER = Cover("p", "A title", 7, {"Africa": 3, "Americas": 4}, "2026-12-01T00:00:00Z", "log")
NAMES = ["ليلى", "王芳", "अनिल", "Ana", "Олег", "Νίκος", "Zoë"]
SIGNERS = [Signer(n, name, "SY") for n, name in enumerate(NAMES, 1)]


def test_pages_hold_the_signers_in_order_and_the_last_is_short() -> None:
    pages = paginate(SIGNERS, 3)
    assert [len(p.signers) for p in pages] == [3, 3, 1]
    assert [s.number for p in pages for s in p.signers] == list(range(1, 8))


def test_each_hash_covers_the_previous_one_and_its_page() -> None:
    pages = paginate(SIGNERS, 3)
    hashes = chain(COVER, pages)
    previous = hashlib.sha256(f"\n{COVER.canonical()}".encode()).hexdigest()[:32]
    assert hashes[0] == previous
    for page, digest in zip(pages, hashes[1:], strict=True):
        assert digest == hashlib.sha256(f"{previous}\n{page.canonical()}".encode()).hexdigest()[:32]
        previous = digest


def test_an_untouched_list_has_no_break() -> None:
    pages = paginate(SIGNERS, 3)
    assert first_break(COVER, pages, chain(COVER, pages)) is None


def test_a_removed_page_breaks_the_chain_at_its_place() -> None:
    pages = paginate(SIGNERS, 2)
    printed = chain(COVER, pages)
    kept = [pages[0], *pages[2:]]
    assert first_break(COVER, kept, [printed[0], printed[1], *printed[3:]]) == 2


def test_an_altered_name_breaks_the_chain_at_its_page() -> None:
    pages = paginate(SIGNERS, 2)
    printed = chain(COVER, pages)
    altered = list(pages)
    names = list(altered[2].signers)
    names[0] = replace(names[0], name="Somebody Else")
    altered[2] = Page(3, tuple(names))
    assert first_break(COVER, altered, printed) == 3


def test_swapped_pages_break_the_chain_at_the_first_of_them() -> None:
    pages = paginate(SIGNERS, 2)
    printed = chain(COVER, pages)
    swapped = [pages[0], pages[2], pages[1], pages[3]]
    assert (
        first_break(COVER, swapped, [printed[0], printed[1], printed[3], printed[2], printed[4]])
        == 2
    )
