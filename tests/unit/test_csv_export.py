"""The CSV delivery list is safe to open in a spreadsheet (CSV injection, CWE-1236)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.audit.delivery import Cover, Page, Signer
from streams.audit.export import DeliveryList, spreadsheet_safe, write_csv


@pytest.mark.parametrize(
    "name",
    ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rReturn"],
)
def test_a_name_that_would_start_a_formula_is_written_as_text(name: str) -> None:
    assert spreadsheet_safe(name) == "'" + name


@pytest.mark.parametrize("name", ["Amina Yusuf", "أمينة", "Jean-Luc", "O'Brien", "李明 = 1"])
def test_every_other_name_is_written_as_signed(name: str) -> None:
    assert spreadsheet_safe(name) == name


def test_the_csv_file_neutralises_a_formula_and_keeps_the_rest(tmp_path: Path) -> None:
    signers = (Signer(1, '=HYPERLINK("http://evil")', "FR"), Signer(2, "Amina", "SY"))
    cover = Cover("p", "t", 2, {}, "2026-12-06T00:00:00+00:00", "")
    delivery = DeliveryList(cover, [Page(1, signers)], [], datetime(2026, 12, 6, tzinfo=UTC))
    write_csv(delivery, tmp_path / "list.csv")
    with (tmp_path / "list.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    assert rows == [
        ["number", "name", "country"],
        ["1", '\'=HYPERLINK("http://evil")', "FR"],
        ["2", "Amina", "SY"],
    ]
