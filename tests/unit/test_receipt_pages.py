"""The intake's pages point a signer at their receipt only where the logs are kept."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.intake import pages
from streams.intake.receipts import ReceiptLinks

PETITION = {"petition_id": "p", "title": "A title", "confirmation": "none"}
PAGE = "https://counts.example.org/receipt"


def test_the_confirmed_page_links_to_the_receipt_page_with_the_logs_on() -> None:
    page = pages.render_confirmed("A title", datetime.now(UTC), again=False, receipt_page=PAGE)
    assert f'<a href="{PAGE}">' in str(page.text)


def test_the_confirmed_page_says_nothing_of_receipts_with_the_logs_off() -> None:
    page = pages.render_confirmed("A title", datetime.now(UTC), again=False)
    assert "receipt" not in str(page.text)


def test_the_thanks_page_escapes_the_receipt_links() -> None:
    links = ReceiptLinks(check=f'{PAGE}#receipt={{"a":"<b>"}}', download="/p/receipt?x=1&y=2")
    page = str(pages.render_thanks(PETITION, "id-1", receipt=links, embed=False).text)
    assert "&lt;b&gt;" in page and "<b>" not in page
    assert 'href="/p/receipt?x=1&amp;y=2"' in page
