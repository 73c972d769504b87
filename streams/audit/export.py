"""``countersign export`` and ``verify-export``: the delivery list and its proof.

The list holds the signers who agreed to publication, in submission order, read
from ClickHouse through ``countersign serve``. ``verify-export`` checks a PDF three
ways and names the first bad page: the manifest against its own hash chain (a name
changed in it), the printed footers against the chain (a page removed, reordered or
replaced), and every page's printed content against a fresh rendering of the
manifest (a name changed on the page itself).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pypdf import PdfReader

from schemas.sealed import open_personal
from streams.audit.delivery import PER_PAGE, Cover, Page, Signer, chain, paginate
from streams.audit.serve_client import ServeClient
from streams.catalogue.store import read_catalogue
from streams.core.errors import CatalogueError, ExportInvalid, KeyErased, SealBroken
from streams.core.settings import Settings
from streams.core.topicspecs import SUBMITTED
from streams.rules.names import clean_name
from streams.rules.retention import export_warning
from streams.signerkeys.store import SignerKeys

FOOTER = re.compile(r"page (\d+) of (\d+)\s+chain ([0-9a-f]{32})")
SIGNERS_PAGE = 50_000


@dataclass(frozen=True)
class Signers:
    signers: list[Signer]
    by_region: dict[str, int]
    #: The part of the audit log they come from: per partition, the last offset.
    log_range: str
    #: Consenting signers whose names are erased (left out).
    erased: int = 0


class SealedNames:
    """Opens the sealed names of a delivery list (docs/privacy.md) with the signers'
    keys, followed from keys.signers once the first sealed name is met. A name whose
    key is gone (erased, withdrawn, past retention) is left out, and counted."""

    def __init__(self, settings: Settings, petition_id: str) -> None:
        self.settings = settings
        self.petition_id = petition_id
        self.erased = 0
        self._keys: SignerKeys | None = None

    def name_of(self, row: dict[str, Any]) -> str | None:
        if not row.get("data_key_id"):
            return str(row["full_name"])  # in clear: a signature from before sealing
        if self._keys is None:
            self._keys = SignerKeys(self.settings)
            self._keys.start()  # loaded to the end of the topic: fresh as of now
        try:
            key = self._keys.data_key(self.petition_id, str(row["data_key_id"]))
        except KeyErased:
            self.erased += 1
            return None
        sealed = base64.b64decode(str(row["personal"]))
        try:
            personal = open_personal(key, sealed, self.petition_id, str(row["signature_id"]))
        except SealBroken as exc:  # another master key, or altered: said, not guessed
            raise ExportInvalid(
                f"the sealed name of signature {row['signature_id']} does not open: {exc}"
            ) from exc
        return clean_name(personal["full_name"])

    def close(self) -> None:
        if self._keys is not None:
            self._keys.stop()


def fetch_signers(settings: Settings, petition_id: str, on_rows: Callable[[int], None]) -> Signers:
    """The consenting signers in submission order, through ``countersign serve``; a
    sealed name opened with its signer's key, an erased one left out."""
    client = ServeClient(settings, timeout=300)
    # Those accepted by now: signatures the sink adds meanwhile neither shift a page
    # nor slip into the middle of the list.
    query = f"until={quote(datetime.now(UTC).isoformat())}&limit={SIGNERS_PAGE}"
    rows: list[dict[str, Any]] = []
    while True:
        after = ""
        if rows:
            end = rows[-1]
            key = [end["submitted_at"], end["source_partition"], end["source_offset"]]
            after = "&after=" + quote(",".join(map(str, [*key, end["source_index"]])))
        page = client.get(f"/petitions/{petition_id}/signers?{query}{after}")
        rows += page
        on_rows(len(page))
        if len(page) < SIGNERS_PAGE:
            break
    furthest: dict[int, int] = {}
    for row in rows:
        partition = int(row["source_partition"])
        furthest[partition] = max(furthest.get(partition, -1), int(row["source_offset"]))
    offsets = ", ".join(f"{p}:{o}" for p, o in sorted(furthest.items())) or "-"
    names = SealedNames(settings, petition_id)
    try:
        named = [(row, names.name_of(row)) for row in rows]
    finally:
        names.close()
    listed = [(row, name) for row, name in named if name is not None]
    return Signers(
        [Signer(number, name, str(row["country"])) for number, (row, name) in enumerate(listed, 1)],
        dict(Counter(str(row["region"]) for row, _ in listed)),
        f"{settings.topic(SUBMITTED.name)} up to offsets {offsets} (partition:offset)",
        names.erased,
    )


@dataclass
class DeliveryList:
    cover: Cover
    pages: list[Page]
    hashes: list[str]
    created: datetime
    #: Said when the petition's retention policy shreds its names soon, or did.
    retention_warning: str | None = None


def delivery_list(
    settings: Settings, petition_id: str, on_rows: Callable[[int], None]
) -> DeliveryList:
    petition = read_catalogue(settings).get(petition_id)
    if petition is None:
        raise CatalogueError(f"no petition {petition_id!r} in the catalogue")
    found = fetch_signers(settings, petition_id, on_rows)
    created = datetime.now(UTC).replace(microsecond=0)
    cover = Cover(
        petition_id,
        str(petition["title"]),
        len(found.signers),
        found.by_region,
        created.isoformat(),
        found.log_range,
        found.erased,
    )
    pages = paginate(found.signers, PER_PAGE)
    warning = export_warning(petition["closes_at"], petition.get("retain_names_days"), created)
    return DeliveryList(cover, pages, chain(cover, pages), created, warning)


#: What a spreadsheet reads as the start of a formula in a cell (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """A cell that Excel or LibreOffice shows as text: one that would start a formula
    (a signer may be called ``=HYPERLINK(...)``: names in every script pass
    validation) gets a leading apostrophe, as OWASP advises (CWE-1236). Only the CSV
    needs it; the PDF keeps the name as signed."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def write_csv(delivery: DeliveryList, target: Path) -> None:
    buffer = io.StringIO()
    out = csv.writer(buffer)
    out.writerow(["number", "name", "country"])
    for page in delivery.pages:
        for signer in page.signers:
            out.writerow([signer.number, spreadsheet_safe(signer.name), signer.country])
    target.write_text(buffer.getvalue(), encoding="utf-8")


# -- verify ---------------------------------------------------------------------------
@dataclass
class Verification:
    pages: int
    #: The first page (0: the cover) that fails a check, or None.
    first_bad: int | None = None
    problems: list[str] = field(default_factory=list)

    def fail(self, page: int, problem: str) -> None:
        self.problems.append(problem)
        self.first_bad = page if self.first_bad is None else min(self.first_bad, page)


def read_manifest(reader: PdfReader) -> tuple[Cover, list[Page], list[str], datetime]:
    from streams.audit.pdf import MANIFEST  # noqa: PLC0415  (fpdf2 only when rendering)

    blobs = reader.attachments.get(MANIFEST)
    if not blobs:
        raise ValueError(f"the file carries no {MANIFEST}: not a Countersign export")
    # Lines end in "\n" only: a name may hold U+2028, which splitlines() splits on.
    lines = [line for line in blobs[0].decode().split("\n") if line]
    head, *records = (json.loads(line) for line in lines)
    cover = Cover(**head["cover"])
    pages = [
        Page(
            int(record["page"]),
            tuple(
                Signer(int(n), name, country)
                for n, name, country in (
                    line.split("\t") for line in record["canonical"].split("\n")[1:] if line
                )
            ),
        )
        for record in records
    ]
    recorded = [head["hash"], *(record["hash"] for record in records)]
    from fpdf import __version__ as fpdf_version  # noqa: PLC0415  (fpdf2 only to render)

    if head.get("fpdf2") != fpdf_version:
        raise ValueError(
            f"made with fpdf2 {head.get('fpdf2')}, this installation has {fpdf_version}: "
            "the page check renders the list again and needs the same version"
        )
    return cover, pages, recorded, datetime.fromisoformat(head["created"])


def verify(
    path: Path, on_page: Callable[[], None] = lambda: None, expect_chain: str | None = None
) -> Verification:
    """``expect_chain``: the chain's end as published elsewhere (the delivery letter,
    the cover of the paper copy): without it, whoever re-makes the whole file with a
    page left out makes a file that checks out."""
    from streams.audit.pdf import render  # noqa: PLC0415  (fpdf2 only when rendering)

    reader = PdfReader(path)
    cover, pages, recorded, created = read_manifest(reader)
    result = Verification(len(reader.pages))
    expected = chain(cover, pages)
    if expect_chain is not None and expected[-1] != expect_chain.lower():
        result.fail(0, f"the chain ends in {expected[-1]}, not the {expect_chain} published")
    names = sum(len(page.signers) for page in pages)
    if names != cover.total:
        result.fail(0, f"the cover says {cover.total:,} names, the pages hold {names:,}")
    altered = next(
        (n for n, (a, b) in enumerate(zip(expected, recorded, strict=True)) if a != b), None
    )
    if altered is not None:
        result.fail(altered, f"page {altered}: its list does not give its hash (altered)")
    printed = [FOOTER.search(page.extract_text() or "") for page in reader.pages]
    for number, want in enumerate(expected):
        found = printed[number] if number < len(printed) else None
        if found is None or found.group(3) != want or int(found.group(1)) != number:
            result.fail(
                number, f"page {number}: the printed chain is broken (removed, moved or replaced)"
            )
            break
    if len(printed) != len(expected):
        result.fail(
            min(len(printed), len(expected)), f"{len(printed)} pages, the list has {len(expected)}"
        )
    if altered is not None:
        return result  # an altered list renders differently on every page: no use
    fresh = PdfReader(io.BytesIO(render(cover, pages, expected, created, on_page)))
    for number, (page, again) in enumerate(zip(reader.pages, fresh.pages, strict=False)):
        if page.get_contents().get_data() != again.get_contents().get_data():  # type: ignore[union-attr]
            result.fail(number, f"page {number}: what is printed is not its list (altered)")
            break
    return result
