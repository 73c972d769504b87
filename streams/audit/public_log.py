"""A client of a petition's public log as anyone reaches it (``/api/...``, no token),
and the two checks made with it: a signer's receipt against the log's newest head,
and the full audit of a log (docs/transparency.md). Nothing the server says is taken
on trust: every head is checked against the key given by the user, every proof
against a head.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streams.core.errors import ServeUnavailable
from streams.rules import merkle
from streams.rules.signed_note import Checkpoint, NoteError, Verifier, open_note
from streams.rules.transparency import Audit, Receipt, audit, check_receipt, commitment

#: Leaves asked for per page (the API gives at most 10,000).
PAGE = 10_000


class PublicLog:
    """One petition's log at ``base`` (``http://host:port``)."""

    def __init__(self, base: str, petition_id: str, timeout: float = 60.0) -> None:
        self.base = base.rstrip("/")
        self.petition_id = petition_id
        self.timeout = timeout

    def _get(self, path: str, **query: object) -> Any:
        url = f"{self.base}/api/petitions/{urllib.parse.quote(self.petition_id)}/log/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as answer:
                return json.load(answer)
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            raise ServeUnavailable(f"{url} answered {exc.code}: {detail}") from exc
        except OSError as exc:
            raise ServeUnavailable(f"{url} did not answer ({exc})") from exc

    def head(self, verifier: Verifier) -> tuple[str, Checkpoint]:
        """The newest signed head (its note, and the checkpoint it signs), checked
        against ``verifier`` and this petition."""
        note = self._get("head")["note"]
        checkpoint = Checkpoint.parse(open_note(note, verifier))
        if checkpoint.origin.rsplit("/", 1)[-1] != self.petition_id:
            raise NoteError(f"the head is the log of {checkpoint.origin}, not {self.petition_id}")
        return note, checkpoint

    def proof(self, committed: bytes) -> dict[str, Any]:
        return dict(self._get("proof", commitment=committed.hex()))

    def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        answer = self._get("consistency", **{"from": old_size, "to": new_size})
        return [bytes.fromhex(node) for node in answer["proof"]]

    def leaves(self, size: int, on_page: Callable[[int], None] = lambda _: None) -> list[bytes]:
        """The first ``size`` leaves, a page at a time."""
        found: list[bytes] = []
        while len(found) < size:
            end = min(size, len(found) + PAGE)
            page = self._get("leaves", start=len(found), end=end)["leaves"]
            if not page:
                raise ServeUnavailable(f"the log ends at {len(found)} leaves, not {size}")
            found += [bytes.fromhex(data) for data in page]
            on_page(len(page))
        return found


def receipt_from_log(
    log: PublicLog, signature_id: str, country: str, salt: bytes, verifier: Verifier
) -> Receipt:
    """A whole receipt for a signature: its leaf's proof against the newest signed
    head, both from the log (checked by ``check_receipt`` afterwards)."""
    answer = log.proof(commitment(signature_id, country, salt))
    return Receipt(
        petition_id=log.petition_id,
        signature_id=signature_id,
        country=country,
        salt=salt,
        leaf_index=int(answer["leaf_index"]),
        proof=tuple(bytes.fromhex(node) for node in answer["proof"]),
        head=str(answer["head"]["note"]),
    )


def still_in_the_log(log: PublicLog, receipt: Receipt, verifier: Verifier) -> Checkpoint:
    """The newest head, once it is shown to extend the receipt's head: the receipt's
    leaf is still where it was (nothing before it changed or left). ``NoteError``
    when it does not."""
    then = check_receipt(receipt, verifier)
    _, now = log.head(verifier)
    if now.size < then.size:
        raise NoteError(f"the log shrank: {then.size} leaves then, {now.size} now")
    proof = log.consistency(then.size, now.size) if now.size > then.size else []
    if not merkle.verify_consistency(then.size, now.size, proof, then.root, now.root):
        raise NoteError(
            f"the newest head ({now.size} leaves) does not extend the receipt's "
            f"({then.size}): the log was rewritten"
        )
    return now


@dataclass
class LogAudit:
    report: Audit
    head: Checkpoint
    note: str


def audit_log(
    log: PublicLog,
    verifier: Verifier,
    seen_before: list[str],
    on_page: Callable[[int], None] = lambda _: None,
    on_size: Callable[[int], None] = lambda _: None,
) -> LogAudit:
    """Download every leaf under the newest signed head and check them against it and
    against every head seen before (``seen_before``: signed notes kept from earlier
    audits), each checked against ``verifier`` first."""
    note, newest = log.head(verifier)
    on_size(newest.size)
    heads = [newest]
    problems = []
    for old in seen_before:
        try:
            heads.append(Checkpoint.parse(open_note(old, verifier)))
        except NoteError as exc:
            problems.append(f"a head kept from before does not check: {exc}")
    leaves = log.leaves(newest.size, on_page)
    report = audit(leaves, heads)
    report.problems[:0] = problems
    return LogAudit(report, newest, note)
