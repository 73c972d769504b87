"""The delivery list as pages with a hash chain: pure functions, no I/O.

A delivered petition is a stack of printed pages. Each page's hash covers the
previous page's hash and the page's own text in a canonical form (numbered lines of
name and country), and is printed in its footer; the cover's hash starts the chain
and the last page's hash is printed on the cover. So a page removed, reordered or
altered breaks the chain from that page on, and ``verify-export`` names the first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CHAIN_VERSION = "countersign-delivery-v1"
#: Names per printed page (two columns of 50).
PER_PAGE = 100
#: Hex digits of a page hash printed in the footer (128 bits).
PRINTED_HASH_DIGITS = 32


@dataclass(frozen=True)
class Signer:
    number: int  # 1-based, in submission order
    name: str
    country: str


@dataclass(frozen=True)
class Cover:
    petition_id: str
    title: str
    total: int
    by_region: dict[str, int]
    generated_at: str
    log_range: str
    #: Signers who agreed to publication and were erased since (docs/privacy.md):
    #: their signatures count, their names are left out.
    erased: int = 0

    def canonical(self) -> str:
        regions = "\n".join(f"{region}\t{n}" for region, n in sorted(self.by_region.items()))
        # Said only when some were: a list without erasures keeps the chain it had.
        erased = f"erased\t{self.erased}\n" if self.erased else ""
        return (
            f"{CHAIN_VERSION}\npetition\t{self.petition_id}\ntitle\t{self.title}\n"
            f"total\t{self.total}\n{regions}\ngenerated\t{self.generated_at}\n"
            f"log\t{self.log_range}\n{erased}"
        )


@dataclass(frozen=True)
class Page:
    number: int  # 1-based; the cover is page 0
    signers: tuple[Signer, ...]

    def canonical(self) -> str:
        lines = "\n".join(f"{s.number}\t{s.name}\t{s.country}" for s in self.signers)
        return f"page\t{self.number}\n{lines}\n"


def paginate(signers: Iterable[Signer], per_page: int) -> list[Page]:
    pages: list[Page] = []
    batch: list[Signer] = []
    for signer in signers:
        batch.append(signer)
        if len(batch) == per_page:
            pages.append(Page(len(pages) + 1, tuple(batch)))
            batch = []
    if batch:
        pages.append(Page(len(pages) + 1, tuple(batch)))
    return pages


def link(previous: str, text: str) -> str:
    """The next hash of the chain: SHA-256 over the previous hash and a page's text."""
    return hashlib.sha256(f"{previous}\n{text}".encode()).hexdigest()[:PRINTED_HASH_DIGITS]


def chain(cover: Cover, pages: Sequence[Page]) -> list[str]:
    """The cover's hash, then each page's: ``chain[k]`` belongs to page k."""
    hashes = [link("", cover.canonical())]
    for page in pages:
        hashes.append(link(hashes[-1], page.canonical()))
    return hashes


def first_break(cover: Cover, pages: Sequence[Page], printed: Sequence[str]) -> int | None:
    """The first page (0: the cover) whose printed hash is not the chain's, or None
    when all agree. Fewer or more printed hashes than pages break at the first
    page that is missing or extra."""
    expected = chain(cover, pages)
    for number, (want, have) in enumerate(zip(expected, printed, strict=False)):
        if want != have:
            return number
    if len(expected) != len(printed):
        return min(len(expected), len(printed))
    return None
