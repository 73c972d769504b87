"""One confirmation mail, from one ``ConfirmationMail`` request: plain text and HTML
in the signer's language, with the signed link. Pure: no network, no clock besides
the one the link is signed with."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from streams.core.links import ConfirmationClaim, confirmation_url
from streams.core.settings import Settings
from streams.mailer.texts import texts_for

_TEMPLATES = Environment(
    loader=PackageLoader("streams.mailer", "templates"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)


def claim_of(request: dict[str, Any]) -> ConfirmationClaim:
    return ConfirmationClaim(
        request["petition_id"],
        request["email_hash"],
        request["signature_id"],
        request["home_partition"],
    )


def compose(settings: Settings, request: dict[str, Any], title: str) -> EmailMessage:
    """The mail that asks ``request``'s signer to confirm their signature of ``title``.
    It names its request (``X-Countersign-Request``), so a copy sent twice shows."""
    language, words = texts_for(request.get("locale"))
    link = confirmation_url(settings, claim_of(request))
    values = {
        "name": request["full_name"],
        "title": title,
        "hours": f"{settings.confirmation_link_hours:g}",
    }
    context = {
        "lang": language,
        "dir": "rtl" if words.rtl else "ltr",
        "link": link,
        **{
            field: getattr(words, field).format(**values)
            for field in ("greeting", "body", "button", "expiry", "ignore")
        },
    }
    message = EmailMessage()
    message["Subject"] = words.subject.format(**values)
    message["From"] = settings.mail_from
    message["To"] = request["email"]
    # A Message-ID takes letters, digits, dots and dashes: the request id spelled so.
    message["Message-ID"] = make_msgid(
        idstring=re.sub(r"[^A-Za-z0-9.]", "-", request["request_id"])
    )
    message["X-Countersign-Request"] = request["request_id"]
    message.set_content(_TEMPLATES.get_template("confirm.txt").render(context))
    message.add_alternative(_TEMPLATES.get_template("confirm.html").render(context), subtype="html")
    # After the content: setting content replaces every Content-* header.
    message["Content-Language"] = language
    return message
