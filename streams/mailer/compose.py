"""One confirmation mail, from one ``ConfirmationMail`` request: plain text and HTML
in the signer's language, with the signed link. Pure: no network, no clock besides
the one the link is signed with.

A request is untrusted input like any record (it may have been written to
``mail.outbox`` by anything that can produce to it), so ``compose`` never raises on
its content: an address the email rule refuses comes back as ``Unmailable``, and every
other header is built from text with its line breaks and controls made spaces. One
bad request must not stop the mail of everyone after it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from streams.core.links import ConfirmationClaim, confirmation_url, withdrawal_url
from streams.core.settings import Settings
from streams.mailer.texts import texts_for
from streams.rules.email import mail_address
from streams.rules.reasons import RuleViolation

_TEMPLATES = Environment(
    loader=PackageLoader("streams.mailer", "templates"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)


#: Characters a header cannot carry as they are: controls, separators, surrogates.
_NOT_IN_HEADER = re.compile(r"\s+")


@dataclass(frozen=True)
class Unmailable:
    """A request no mail can be made of, and why (never repeating the address)."""

    reason: str
    detail: str


def header_text(text: str) -> str:
    """``text`` on one line: whitespace runs, controls and separators become one space
    (a header with a line break in it would be two headers, and the library refuses)."""
    visible = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") else ch for ch in text
    )
    return _NOT_IN_HEADER.sub(" ", visible).strip()


def claim_of(request: dict[str, Any]) -> ConfirmationClaim:
    return ConfirmationClaim(
        request["petition_id"],
        request["email_hash"],
        request["signature_id"],
        request["home_partition"],
    )


def compose(settings: Settings, request: dict[str, Any], title: str) -> EmailMessage | Unmailable:
    """The mail that asks ``request``'s signer to confirm their signature of ``title``.
    It names its request (``X-Countersign-Request``), so a copy sent twice shows."""
    try:
        local, domain = mail_address(request["email"])
    except RuleViolation as refused:
        return Unmailable(str(refused.reason), refused.detail)
    language, words = texts_for(request.get("locale"))
    link = confirmation_url(settings, claim_of(request))
    withdraw_link = withdrawal_url(settings, claim_of(request))
    values = {
        "name": request["full_name"],
        "title": title,
        "hours": f"{settings.confirmation_link_hours:g}",
    }
    context = {
        "lang": language,
        "dir": "rtl" if words.rtl else "ltr",
        "link": link,
        "withdraw_link": withdraw_link,
        **{
            field: getattr(words, field).format(**values)
            for field in ("greeting", "body", "button", "expiry", "ignore", "withdraw")
        },
    }
    message = EmailMessage()
    message["Subject"] = header_text(words.subject.format(**values))
    message["From"] = settings.mail_from
    message["To"] = Address(username=local, domain=domain)
    # A Message-ID takes letters, digits, dots and dashes: the request id spelled so.
    message["Message-ID"] = make_msgid(
        idstring=re.sub(r"[^A-Za-z0-9.]", "-", request["request_id"])
    )
    message["X-Countersign-Request"] = header_text(request["request_id"])
    message.set_content(_TEMPLATES.get_template("confirm.txt").render(context))
    message.add_alternative(_TEMPLATES.get_template("confirm.html").render(context), subtype="html")
    # After the content: setting content replaces every Content-* header.
    message["Content-Language"] = language
    return message
