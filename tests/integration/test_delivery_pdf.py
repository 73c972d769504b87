"""The delivery PDF: every script, a hash chain, and ``verify`` catching a page
removed, a name changed on a page and a name changed in the list it carries."""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, NameObject

from streams.audit.delivery import PER_PAGE, Cover, Signer, chain, paginate
from streams.audit.export import verify
from streams.audit.pdf import MANIFEST, face_for, render
from streams.demo.people import Crowd

CREATED = datetime(2026, 12, 1, tzinfo=UTC)
#: Names from the locales the ticket names, beside the crowd's.
SCRIPTS = {
    "ar": "ليلى الخطيب",
    "he": "אריאל אבו",
    "zh": "王芳",
    "hi": "अनिल शर्मा",
    "en": "Ana Silva",
}


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    crowd = Crowd(random.Random(5))
    people = [crowd.new_person() for _ in range(2 * PER_PAGE + 37)]
    signers = [Signer(n, p.name, p.country) for n, p in enumerate(people, 1)]
    signers[:5] = [Signer(n, name, "SY") for n, name in enumerate(SCRIPTS.values(), 1)]
    cover = Cover(
        "p", "Refer Syria to the ICC", len(signers), {"Africa": 1}, CREATED.isoformat(), "log"
    )
    pages = paginate(signers, PER_PAGE)
    path = tmp_path_factory.mktemp("export") / "list.pdf"
    path.write_bytes(render(cover, pages, chain(cover, pages), CREATED))
    return path


def test_the_pdf_has_a_cover_and_numbered_pages_with_their_chain(export: Path) -> None:
    reader = PdfReader(export)
    assert len(reader.pages) == 1 + 3
    head, *records = (
        json.loads(line) for line in reader.attachments[MANIFEST][0].decode().splitlines()
    )
    assert [r["page"] for r in records] == [1, 2, 3]
    for number, page in enumerate(reader.pages):
        text = page.extract_text()
        want = head["hash"] if number == 0 else records[number - 1]["hash"]
        assert f"page {number} of 3   chain {want}" in text


def test_names_of_every_script_get_a_font_that_has_their_letters() -> None:
    faces = {key: face_for(name, "SY") for key, name in SCRIPTS.items()}
    assert faces == {
        "ar": "arabic",
        "he": "hebrew",
        "zh": "cjk-sc",
        "hi": "devanagari",
        "en": "latin",
    }
    assert face_for("佐藤", "JP") == "cjk-jp"


def test_an_intact_export_verifies(export: Path) -> None:
    result = verify(export)
    assert (result.first_bad, result.problems) == (None, [])


def test_a_removed_page_is_named(export: Path, tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=export)
    writer.remove_page(2)
    copy = tmp_path / "removed.pdf"
    writer.write(copy)
    assert verify(copy).first_bad == 2


def test_a_name_changed_on_a_page_is_named(export: Path, tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=export)
    page = writer.pages[3]
    content = bytearray(page.get_contents().get_data())  # type: ignore[union-attr]
    at = content.rindex(b") Tj") - 1  # the last glyph of the last name drawn
    content[at] = (content[at] + 1) % 256
    stream = DecodedStreamObject()
    stream.set_data(bytes(content))
    page[NameObject("/Contents")] = writer._add_object(stream)
    copy = tmp_path / "renamed.pdf"
    writer.write(copy)
    result = verify(copy)
    assert result.first_bad == 3, result.problems


def test_a_name_changed_in_the_list_it_carries_is_named(export: Path, tmp_path: Path) -> None:
    reader = PdfReader(export)
    lines = reader.attachments[MANIFEST][0].decode().splitlines()
    record = json.loads(lines[2])
    first_name = record["canonical"].splitlines()[1].split("\t")[1]
    record["canonical"] = record["canonical"].replace(first_name, "Somebody Else", 1)
    lines[2] = json.dumps(record, ensure_ascii=False)
    writer = PdfWriter(clone_from=reader)
    writer._root_object.pop(NameObject("/Names"), None)
    writer.add_attachment(MANIFEST, "\n".join(lines).encode())
    buffer = io.BytesIO()
    writer.write(buffer)
    copy = tmp_path / "manifest.pdf"
    copy.write_bytes(buffer.getvalue())
    assert verify(copy).first_bad == 2
