"""The delivery list as a print-ready PDF: fpdf2 with HarfBuzz shaping and Debian's
Noto fonts (``make fonts``), so Arabic and Hebrew run right to left and join,
Devanagari, Bengali and Sinhala form their conjuncts, and CJK, Thai, Cyrillic, Greek,
Armenian and Georgian names print without a missing glyph.

The PDF carries its own proof: an attachment ``countersign-pages.jsonl`` holds the
cover and every page in canonical form with its chained hash (streams/audit/delivery.py),
every footer prints that page's hash, and the same manifest renders the same bytes
again, which is how ``verify-export`` checks the printed names without trusting text
extraction (lossy for shaped scripts).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import fpdf.fpdf
from fpdf import FPDF
from fpdf import __version__ as fpdf_version
from fpdf.unicode_script import UnicodeScript, get_unicode_script

from streams.audit.delivery import CHAIN_VERSION, PER_PAGE, Cover, Page
from streams.core.errors import ConfigurationError

MANIFEST = "countersign-pages.jsonl"
COLUMNS = 2
ROWS = PER_PAGE // COLUMNS
NOTO = Path("/usr/share/fonts/truetype/noto")
NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FONTS = {
    "latin": "NotoSans-Regular.ttf",  # Latin, Cyrillic, Greek
    "arabic": "NotoSansArabic-Regular.ttf",
    "hebrew": "NotoSansHebrew-Regular.ttf",
    "devanagari": "NotoSansDevanagari-Regular.ttf",
    "bengali": "NotoSansBengali-Regular.ttf",
    "sinhala": "NotoSansSinhala-Regular.ttf",
    "thai": "NotoSansThai-Regular.ttf",
    "armenian": "NotoSansArmenian-Regular.ttf",
    "georgian": "NotoSansGeorgian-Regular.ttf",
}
#: Faces of NotoSansCJK-Regular.ttc: Han characters take the forms of the signer's
#: country (Japanese, Korean, simplified or traditional Chinese).
CJK_FACES = {"cjk-jp": 0, "cjk-kr": 1, "cjk-sc": 2, "cjk-tc": 3}
HAN_FACE = {"JP": "cjk-jp", "KR": "cjk-kr", "TW": "cjk-tc", "HK": "cjk-tc", "MO": "cjk-tc"}
#: (first code point, last, face) of the scripts a name's first letter may be in.
SCRIPTS = [
    (0x0370, 0x052F, "latin"), (0x0530, 0x058F, "armenian"), (0x0590, 0x05FF, "hebrew"),
    (0x0600, 0x06FF, "arabic"), (0x0750, 0x077F, "arabic"), (0x0900, 0x097F, "devanagari"),
    (0x0980, 0x09FF, "bengali"), (0x0D80, 0x0DFF, "sinhala"), (0x0E00, 0x0E7F, "thai"),
    (0x10A0, 0x10FF, "georgian"), (0x1C90, 0x1CBF, "georgian"), (0x1100, 0x11FF, "cjk-kr"),
    (0x3130, 0x318F, "cjk-kr"), (0xAC00, 0xD7AF, "cjk-kr"), (0x3040, 0x30FF, "cjk-jp"),
    (0x3400, 0x4DBF, "han"), (0x4E00, 0x9FFF, "han"), (0x20000, 0x3FFFF, "han"),
    (0xFB1D, 0xFB4F, "hebrew"), (0xFB50, 0xFDFF, "arabic"), (0xFE70, 0xFEFF, "arabic"),
]  # fmt: skip
#: Faces whose names need no reordering or shaping: cheaper to lay out without HarfBuzz.
UNSHAPED = {"latin", "armenian", "georgian", *CJK_FACES}


@functools.cache  # fpdf2 clears this cache in output(): keep one
def _script(char: str) -> UnicodeScript:
    """fpdf2 2.8.9 starts a new text run at every character of the "Inherited" script
    (ZWJ, ZWNJ, Arabic vowel marks, combining marks), so HarfBuzz would shape the
    pieces apart: Arabic with a shadda unjoined, Sinhala conjuncts broken. Such a
    character belongs to the run it is in, as punctuation does."""
    script = get_unicode_script(char)
    return UnicodeScript.COMMON if script == UnicodeScript.INHERITED else script


fpdf.fpdf.get_unicode_script = _script  # type: ignore[attr-defined]


def face_for(name: str, country: str) -> str:
    """The font face for a name: by its first letter beyond Latin."""
    for char in name:
        point = ord(char)
        if point < 0x250:
            continue
        for first, last, face in SCRIPTS:
            if first <= point <= last:
                return HAN_FACE.get(country, "cjk-sc") if face == "han" else face
    return "latin"


class DeliveryPdf:
    """Lays out the cover and the pages; ``created`` fixes every date in the file so
    that one manifest always renders the same bytes."""

    def __init__(self, created: datetime) -> None:
        missing = [NOTO / f for f in FONTS.values() if not (NOTO / f).exists()]
        if missing or not NOTO_CJK.exists():
            raise ConfigurationError(
                f"the Noto fonts are missing ({(missing or [NOTO_CJK])[0]}): run `make fonts`"
            )
        pdf = FPDF(unit="mm", format="A4")
        pdf.set_auto_page_break(False)
        pdf.set_margins(12, 12, 12)
        pdf.set_creator("countersign")
        pdf.set_creation_date(created)
        for face, file in FONTS.items():
            pdf.add_font(face, "", str(NOTO / file))
        pdf.add_font("latin", "B", str(NOTO / "NotoSans-Bold.ttf"))
        for face, number in CJK_FACES.items():
            pdf.add_font(face, "", str(NOTO_CJK), collection_font_number=number)
        pdf.set_text_shaping(True)
        pdf.set_fallback_fonts([*FONTS, "cjk-sc", "cjk-kr", "cjk-jp"])
        self.pdf = pdf
        self.created = created

    def cover(self, cover: Cover, pages: int, hashes: Sequence[str]) -> None:
        pdf = self.pdf
        pdf.set_title(cover.title)
        pdf.add_page()
        pdf.set_font("latin", "B", size=18)
        pdf.multi_cell(0, 9, cover.title, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("latin", size=11)
        pdf.ln(3)
        pdf.multi_cell(
            0,
            6,
            f"Petition {cover.petition_id}\n"
            f"Signatures: {cover.total:,} ({pages:,} pages of up to {PER_PAGE} names, "
            "in submission order; names of signers who agreed to publication)\n"
            + (
                f"Left out: {cover.erased:,} names erased, at their signers' request or "
                "under the petition's retention policy (their signatures still count)\n"
                if cover.erased
                else ""
            )
            + f"Generated {cover.generated_at}\nFrom the audit log: {cover.log_range}",
            align="L",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.ln(4)
        with pdf.table(
            col_widths=(80, 30, 20), text_align=("LEFT", "RIGHT", "RIGHT"), width=130
        ) as t:
            t.row(["Region", "Signatures", "Share"])
            for region, n in sorted(cover.by_region.items(), key=lambda kv: -kv[1]):
                t.row([region, f"{n:,}", f"{100 * n / max(cover.total, 1):.1f} %"])
        pdf.ln(6)
        pdf.set_font("latin", size=9)
        pdf.multi_cell(
            0,
            5,
            "Every page's footer carries a hash chained from the previous page's: a page "
            "removed, reordered or altered breaks the chain from there on. Check this file "
            "with `countersign verify-export FILE`. The chain ends in:",
            align="L",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_font("Courier", size=10)
        pdf.cell(0, 6, hashes[-1])
        self._footer(0, pages, hashes[0])

    def page(self, page: Page, pages: int, digest: str, petition_id: str) -> None:
        pdf = self.pdf
        pdf.add_page()
        signers = page.signers
        pdf.set_font("latin", size=9)
        pdf.set_xy(12, 11)
        pdf.cell(0, 5, f"{petition_id}: signers {signers[0].number:,} to {signers[-1].number:,}")
        width = (pdf.w - 24) / COLUMNS
        top, height = 20.0, 5.0
        # The numbers and countries are ASCII: one unshaped cell per column is enough.
        pdf.set_text_shaping(False)
        pdf.set_font("Courier", size=7)
        for column in range(COLUMNS):
            part = signers[column * ROWS : (column + 1) * ROWS]
            if not part:
                break
            x = 12 + column * width
            pdf.set_xy(x, top)
            pdf.multi_cell(16, height, "\n".join(f"{s.number:>7}" for s in part), align="R")
            pdf.set_xy(x + width - 9, top)
            pdf.multi_cell(8, height, "\n".join(s.country for s in part), align="L")
        for i, signer in enumerate(signers):
            column, row = divmod(i, ROWS)
            face = face_for(signer.name, signer.country)
            pdf.set_text_shaping(face not in UNSHAPED)
            size = 9.0
            pdf.set_font(face, size=size)
            while size > 5 and pdf.get_string_width(signer.name) > width - 27:
                size -= 0.5  # a long name gets smaller, never into the country column
                pdf.set_font(face, size=size)
            pdf.set_xy(12 + column * width + 17, top + row * height)
            pdf.cell(width - 26, height, signer.name)
        pdf.set_text_shaping(True)
        self._footer(page.number, pages, digest)

    def _footer(self, number: int, pages: int, digest: str) -> None:
        """ASCII in a core font: it reads back exactly (``verify-export``)."""
        self.pdf.set_text_shaping(False)
        self.pdf.set_font("Courier", size=7)
        self.pdf.set_xy(12, 286)
        self.pdf.cell(0, 4, f"page {number} of {pages}   chain {digest}")
        self.pdf.set_text_shaping(True)

    def output(self, manifest: bytes) -> bytes:
        self.pdf.embed_file(
            basename=MANIFEST,
            bytes=manifest,
            desc="the cover and every page in canonical form, with the hash chain",
            compress=True,
            modification_date=self.created,
        )
        return bytes(self.pdf.output())


def manifest(
    cover: Cover, pages: Sequence[Page], hashes: Sequence[str], created: datetime
) -> bytes:
    head: dict[str, Any] = {
        "version": CHAIN_VERSION,
        "created": created.isoformat(),
        "fpdf2": fpdf_version,
        "cover": cover.__dict__,
        "hash": hashes[0],
    }
    lines = [json.dumps(head, ensure_ascii=False)]
    for page, digest in zip(pages, hashes[1:], strict=True):
        lines.append(
            json.dumps(
                {"page": page.number, "hash": digest, "canonical": page.canonical()},
                ensure_ascii=False,
            )
        )
    return ("\n".join(lines) + "\n").encode()


def render(
    cover: Cover,
    pages: Sequence[Page],
    hashes: Sequence[str],
    created: datetime,
    on_page: Callable[[], None] = lambda: None,
) -> bytes:
    """The whole PDF; ``on_page`` after each list page (for a progress bar)."""
    document = DeliveryPdf(created)
    document.cover(cover, len(pages), hashes)
    for page, digest in zip(pages, hashes[1:], strict=True):
        document.page(page, len(pages), digest, cover.petition_id)
        on_page()
    return document.output(manifest(cover, pages, hashes, created))
