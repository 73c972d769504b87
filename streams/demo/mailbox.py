"""Mailpit's REST API, and simulated signers who follow their confirmation links.

Mailpit is the development mail server (``make install`` builds it; ``make run`` and
the tests start it). ``LinkFollower`` plays the signers of a demo or a test: it reads
the confirmation mails that arrived and follows the link of a share of the signers,
chosen by their address (``follows``), so the ground truth of who confirmed can be
computed without watching it happen.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from streams.rules.email import normalize_email
from streams.rules.reasons import RuleViolation

log = logging.getLogger(__name__)

LINK = re.compile(r"https?://\S+/confirm/[A-Za-z0-9_.\-]+")
WITHDRAW_LINK = re.compile(r"https?://\S+/withdraw/[A-Za-z0-9_.\-]+")
#: ``email.utils.make_msgid``'s ``<time.pid.random.IDSTRING@host>``.
_MSGID = re.compile(r"^<?\d+\.\d+\.\d+\.(?P<request>.*)@[^@]*>?$")


@dataclass(frozen=True)
class Mail:
    id: str
    to: str
    subject: str
    text: str

    @property
    def link(self) -> str:
        """The confirmation link in the plain-text part."""
        return self._first(LINK, "confirmation")

    @property
    def withdraw_link(self) -> str:
        """The "remove my signature" link in the plain-text part."""
        return self._first(WITHDRAW_LINK, "withdrawal")

    def _first(self, pattern: re.Pattern[str], what: str) -> str:
        match = pattern.search(self.text)
        if match is None:
            raise LookupError(f"no {what} link in mail {self.id}")
        return match.group(0)


def request_of(message_id: str) -> str:
    """The mail request a Message-ID was made for (``streams.mailer.compose``), as it
    spells it there: ``first-signatures.submitted-2-17-0``."""
    match = _MSGID.match(message_id.strip())
    return match["request"] if match else message_id


def mailbox_of(address: str) -> str:
    """One name for every spelling of a mailbox (the email rules' normalization)."""
    try:
        return normalize_email(address)
    except RuleViolation:
        return address.strip().lower()


def follows(address: str, share: float) -> bool:
    """Whether the signer of ``address`` follows their link: the same answer for
    every spelling of one mailbox, about ``share`` of all signers."""
    digest = hashlib.sha256(mailbox_of(address).encode()).digest()
    return int.from_bytes(digest[:4], "big") < share * 2**32


def signer_ip(address: str) -> str:
    """A documentation-range IPv6 address (2001:db8::/32) of the signer's own /64."""
    digest = hashlib.sha256(mailbox_of(address).encode()).digest()
    return str(ipaddress.IPv6Address(b"\x20\x01\x0d\xb8" + digest[:4] + bytes(7) + b"\x01"))


class MailpitApi:
    def __init__(self, api_url: str) -> None:
        self.api_url = api_url.rstrip("/")

    def _call(self, path: str, method: str = "GET", body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.api_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return json.loads(raw) if raw.strip().startswith((b"{", b"[")) else raw

    def count(self) -> int:
        return int(self._call("/api/v1/messages?limit=1")["total"])

    def summaries(self, limit: int = 1000, start: int = 0) -> list[dict[str, Any]]:
        """Newest first, as Mailpit lists them."""
        return list(self._call(f"/api/v1/messages?limit={limit}&start={start}")["messages"])

    def all_summaries(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            page = self.summaries(limit=1000, start=len(found))
            found.extend(page)
            if len(page) < 1000:
                return found

    def mail(self, message_id: str) -> Mail:
        message = self._call(f"/api/v1/message/{message_id}")
        return Mail(message["ID"], message["To"][0]["Address"], message["Subject"], message["Text"])

    def mails_to(self, address: str) -> list[Mail]:
        found = self._call(f"/api/v1/search?query={quote('to:' + address)}")
        return [self.mail(summary["ID"]) for summary in found["messages"]]

    def delete(self, ids: list[str]) -> None:
        if ids:
            self._call("/api/v1/messages", method="DELETE", body={"IDs": ids})

    def wait_for_mail(self, address: str, count: int = 1, timeout: float = 60) -> list[Mail]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mails = self.mails_to(address)
            if len(mails) >= count:
                return mails
            time.sleep(0.3)
        raise AssertionError(f"{count} mail(s) to {address} did not arrive in {timeout} s")


@dataclass
class LinkFollower:
    """Signers reading their mail: each new mail's link is followed when its address
    ``follows``; a link the intake could not take now (503) is tried again later."""

    api: MailpitApi
    share: float
    #: Delete mails once read (a long demo); tests keep them to count them.
    delete_read: bool = False
    #: Read only the mail of these mailboxes (normalized; None: everyone's), so a
    #: person trying the form beside the demo feed finds their own mail untouched.
    mailboxes: set[str] | None = None
    #: Signers reading at once (each mail is fetched and its link followed over HTTP).
    workers: int = 1
    read: set[str] = field(default_factory=set)
    followed: int = 0
    ignored: int = 0

    def run_once(self) -> int:
        """Read the mails that arrived; returns how many links were followed."""
        done: list[str] = []
        to_follow: list[str] = []
        for summary in self.api.all_summaries():
            if summary["ID"] in self.read:
                continue
            address = summary["To"][0]["Address"]
            if self.mailboxes is not None and mailbox_of(address) not in self.mailboxes:
                continue
            if follows(address, self.share):
                to_follow.append(summary["ID"])
            else:
                self.ignored += 1
                done.append(summary["ID"])
        with ThreadPoolExecutor(self.workers) as pool:
            outcomes = list(
                pool.map(lambda mail_id: self._follow(self.api.mail(mail_id)), to_follow)
            )
        followed = [mail_id for mail_id, ok in zip(to_follow, outcomes, strict=True) if ok]
        self.followed += len(followed)  # the others are tried again next round
        done += followed
        self.read.update(done)
        if self.delete_read:
            self.api.delete(done)
            self.read.difference_update(done)
        return len(followed)

    def _follow(self, mail: Mail) -> bool:
        # Each signer follows from a network of their own, as people do: the intake
        # limits confirmations per client, and believes this only from a trusted proxy.
        link = urllib.request.Request(mail.link, headers={"X-Forwarded-For": signer_ip(mail.to)})
        try:
            with urllib.request.urlopen(link, timeout=30) as response:
                return bool(response.status == 200)
        except urllib.error.HTTPError as error:
            if error.code in (400, 410):  # a broken or expired link: a signer gives up
                return True
            log.info("confirmation link answered %s; trying again later", error.code)
            return False
        except OSError as exc:
            log.info("confirmation link not reachable (%s); trying again later", exc)
            return False
