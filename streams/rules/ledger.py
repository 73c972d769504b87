"""The dedupe stage's decisions over its table, as plain functions of a mapping.

``DedupeLedger`` settles valid signatures (the first per dedupe key wins), applies
confirmations, and keeps the partial counts derived from its entries. State is any
mutable mapping (a dict in the unit tests, a RocksDB-backed Faust table in the worker).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from datetime import datetime
from typing import Any

from schemas.codec import codec
from streams.core.errors import MalformedMessage
from streams.rules.countries import has_region
from streams.rules.dedupe import (
    WINNER_HEADER,
    Outcome,
    PartialCounts,
    Winner,
    confirm,
    decide,
    duplicate_detail,
    moderate,
)
from streams.rules.keys import DedupeKey, is_email_hash
from streams.rules.outputs import Output, Route, malformed
from streams.rules.reasons import Reason
from streams.rules.verdict import SourcePosition, rejection

#: Header of a signatures.valid record whose signer must confirm: the address to
#: mail (the record itself carries only its hash). signatures.valid is bounded.
MAIL_TO_HEADER = "countersign-mail-to"
#: Header of a signatures.valid record with the email's hashes under the keys used
#: before a rotation: ``id:hash,id:hash`` (``Accepted.previous_hashes``).
PREVIOUS_HASHES_HEADER = "countersign-previous-hashes"


def encode_previous(previous: tuple[tuple[str, str], ...]) -> bytes:
    return ",".join(f"{key_id}:{digest}" for key_id, digest in previous).encode()


def decode_previous(raw: bytes | None) -> tuple[tuple[str, str], ...]:
    """The header's ``(key id, hash)`` pairs; a pair that is not one is left out."""
    if not raw:
        return ()
    pairs = (part.partition(":") for part in raw.decode("utf-8", "replace").split(","))
    return tuple((key_id, digest) for key_id, _, digest in pairs if is_email_hash(digest))


class DedupeLedger:
    """The first accepted signature per dedupe key wins: the entries (one per key, in
    the signer's home partition), their confirmation, and the partial counts derived
    from them."""

    def __init__(
        self,
        winners: MutableMapping[bytes, bytes],
        leaf_of: Callable[[Mapping[str, Any]], bytes] | None = None,
    ) -> None:
        self.winners = winners
        self.partial = PartialCounts()
        #: A SignatureAccepted record's commitment in the public log (None: no log).
        self.leaf_of = leaf_of

    def candidate(self, record: dict[str, Any], home: int) -> Winner:
        """The entry a valid signature asks for, with its leaf when the log is on."""
        leaf = None if self.leaf_of is None else self.leaf_of(record)
        return Winner.of(record, home, leaf)

    def log_words(self, key: DedupeKey, entry: Winner | None, now: datetime) -> list[Output]:
        """The word to the public log on a signer whose entry this is now: whether
        its signature counts, as of the entry's ``changes``. Said again on every
        redelivery, so that a word lost in a crash is said once more; the log's
        writer appends nothing twice (``streams.rules.log_writer``)."""
        if entry is None or entry.leaf is None or entry.is_placeholder:
            return []
        word = {
            "petition_id": key.petition_id,
            "commitment": entry.leaf,
            "counted": entry.counted,
            "changes": entry.changes,
            "home_partition": entry.home,
            "said_at": now,
        }
        value = codec("LogChange").encode(word)
        return [Output(Route.LOG, key.petition_id.encode(), value, "log")]

    def settle(
        self,
        key: DedupeKey,
        candidate: Winner,
        value: bytes | None,
        read_at: SourcePosition,
        *,
        now: datetime,
        record: dict[str, Any] | None = None,
        mail_to: str | None = None,
        previous: tuple[tuple[str, str], ...] = (),
    ) -> list[Output]:
        """Accept, forward again, resend the confirmation of, or reject as a duplicate
        one valid signature, read at ``read_at`` on its home partition
        ``candidate.home``. ``value`` is its SignatureAccepted bytes (``record`` the
        same, decoded, when the caller has it; with ``record``, ``value`` may be None:
        it is then encoded only if an accepted record goes out, never for a
        duplicate); ``mail_to`` the address to confirm;
        ``previous`` its email's ``(key id, hash)`` under keys used before a rotation.

        Idempotent under redelivery (docs/exactly-once.md): the very same submission
        finds itself as the winner, is forwarded again and not counted again."""
        table_key = key.table_key()
        stored_bytes = self.winners.get(table_key)
        if stored_bytes is None and previous:
            found = self._signed_before(key, previous, value, record)
            if found is not None:
                key, value, record = found
                table_key = key.table_key()
                stored_bytes = self.winners.get(table_key)
        stored = None if stored_bytes is None else Winner.decode(stored_bytes)
        outcome, entry = decide(candidate, stored)
        if outcome is Outcome.DUPLICATE:
            assert stored is not None
            return [self._duplicate(key, value, stored, read_at, record=record, now=now)]
        if outcome is Outcome.RESENT:
            return self._mail(
                key,
                value,
                read_at,
                record=record,
                mail_to=mail_to,
                entry=entry,
                kind="resend",
                now=now,
            )
        # Written again on a replay too, so the changelog surely has it.
        self.winners[table_key] = entry.encode()
        if outcome is Outcome.ACCEPTED:
            self.partial.apply(key.petition_id, stored, entry)
        if value is None:
            assert record is not None, "settle needs the record's bytes or the record"
            value = codec("SignatureAccepted").encode(record)
        accepted = Output(Route.ACCEPTED, key.encode(), value, outcome.value, entry.home)
        said = [accepted, *self.log_words(key, entry, now)]
        if not entry.pending:
            return said
        # A replay asks again with the same request id: the mailer sends it once.
        mail = self._mail(
            key, value, read_at, record=record, mail_to=mail_to, entry=entry, kind="first", now=now
        )
        return [*said, *mail]

    def _signed_before(
        self,
        key: DedupeKey,
        previous: tuple[tuple[str, str], ...],
        value: bytes | None,
        record: dict[str, Any] | None,
    ) -> tuple[DedupeKey, bytes, dict[str, Any]] | None:
        """When the signer has an entry under a key used before a rotation: that
        dedupe key, and the record under it (the email's hash as it was then), so
        the signer stays one signer downstream too."""
        for key_id, digest in previous:
            before = DedupeKey(key.petition_id, digest)
            if self.winners.get(before.table_key()) is not None:
                record = dict(record or codec("SignatureAccepted").decode(value or b""))
                record |= {"email_hash": digest, "email_hash_key_id": key_id}
                return before, codec("SignatureAccepted").encode(record), record
        return None

    def settle_sent_home(
        self, key: bytes | None, value: bytes, headers: Any, read_at: SourcePosition, now: datetime
    ) -> list[Output]:
        """Settle a record of signatures.valid (validate sent it home): from its key and
        ``WINNER_HEADER`` when validate wrote them (no Avro decoding), else from the
        decoded record. Its home is the partition it was read from."""
        pairs = headers.items() if isinstance(headers, dict) else (headers or ())
        found = dict(pairs)
        try:
            dedupe_key, candidate = _candidate_of(
                key, value, found.get(WINNER_HEADER), read_at.partition, self.candidate
            )
        except MalformedMessage as exc:
            detail = f"unreadable record on {read_at.topic}: {exc.detail}"
            return [malformed(value, DedupeKey.petition_of(key), detail, read_at, now)]
        mail_to = found.get(MAIL_TO_HEADER)
        return self.settle(
            dedupe_key,
            candidate,
            value,
            read_at,
            now=now,
            mail_to=None if mail_to is None else mail_to.decode("utf-8", errors="replace"),
            previous=decode_previous(found.get(PREVIOUS_HASHES_HEADER)),
        )

    def confirmation(
        self, key: bytes | None, value: bytes | None, read_at: SourcePosition, now: datetime
    ) -> list[Output]:
        """Apply a record of signatures.confirmations, read on the signer's home
        partition: the word to the public log, or a dead letter when it is not a
        confirmation."""
        read = _signer_event("SignatureConfirmed", key, value, read_at, now)
        if isinstance(read, Output):
            return [read]
        _, dedupe_key = read
        home, at = read_at.partition, read_at.offset
        entry = self._change(dedupe_key, lambda stored: confirm(stored, home, at))
        return self.log_words(dedupe_key, entry, now)

    def moderation(
        self, key: bytes | None, value: bytes | None, read_at: SourcePosition, now: datetime
    ) -> list[Output]:
        """Apply a record of signatures.moderations (ops invalidated or reinstated a
        signature), read on the signer's home partition: the word to the public log,
        or a dead letter when it is not one."""
        read = _signer_event("SignatureModerated", key, value, read_at, now)
        if isinstance(read, Output):
            return [read]
        record, dedupe_key = read
        if record["action"] not in ("invalidate", "reinstate"):
            detail = f"the record on {read_at.topic} has no known action: {record['action']!r}"
            return [malformed(value, dedupe_key.petition_id, detail, read_at, now)]
        invalidate = record["action"] == "invalidate"
        entry = self._change(
            dedupe_key,
            lambda stored: moderate(
                stored, read_at.partition, invalidate=invalidate, at=read_at.offset
            ),
        )
        return self.log_words(dedupe_key, entry, now)

    def _change(
        self, key: DedupeKey, change: Callable[[Winner | None], Winner | None]
    ) -> Winner | None:
        """Apply ``change`` to a key's entry; the entry after it (None: there is
        none). An entry that shows the change already (the event delivered again
        after a crash) is written again all the same, as a replayed winner is: the
        local store may have kept a write that its changelog never got, and the next
        owner of the partition restores from the changelog (docs/exactly-once.md)."""
        table_key = key.table_key()
        stored_bytes = self.winners.get(table_key)
        stored = None if stored_bytes is None else Winner.decode(stored_bytes)
        entry = change(stored)
        if entry is None:
            if stored_bytes is not None:
                self.winners[table_key] = stored_bytes
            return stored
        self.winners[table_key] = entry.encode()
        self.partial.apply(key.petition_id, stored, entry)
        return entry

    def _mail(
        self,
        key: DedupeKey,
        value: bytes | None,
        read_at: SourcePosition,
        *,
        record: dict[str, Any] | None,
        mail_to: str | None,
        entry: Winner,
        kind: str,
        now: datetime,
    ) -> list[Output]:
        """The confirmation mail of a pending signature: to ``mail_to``, or for a
        sealed signature to its sealed address, which only the mailer opens (none
        without either: a record sent home by an older worker, which mailed it)."""
        if record is None:
            try:
                record = codec("SignatureAccepted").decode(value or b"")
            except MalformedMessage as exc:
                detail = f"no mail for an unreadable record: {exc.detail}"
                return [malformed(value, key.petition_id, detail, read_at, now)]
        sealed = record.get("personal")
        if mail_to is None and sealed is None:
            return []
        position = (
            f"{record['source_topic']}/{record['source_partition']}/"
            f"{record['source_offset']}#{record.get('source_index') or 0}"
        )
        mail = {
            "request_id": f"{kind}:{position}",
            "kind": kind,
            "petition_id": key.petition_id,
            "email_hash": key.email_hash,
            "home_partition": entry.home,
            "signature_id": record["signature_id"],
            "email": mail_to,
            "full_name": record["full_name"] if sealed is None else None,
            "locale": record.get("locale"),
            "requested_at": now,
            "personal": sealed,
            "data_key_id": record.get("data_key_id"),
        }
        value = codec("ConfirmationMail").encode(mail)
        return [Output(Route.OUTBOX, key.encode(), value, f"mail-{kind}")]

    def _duplicate(
        self,
        key: DedupeKey,
        value: bytes | None,
        winner: Winner,
        read_at: SourcePosition,
        *,
        record: dict[str, Any] | None,
        now: datetime,
    ) -> Output:
        if record is None:
            try:
                record = codec("SignatureAccepted").decode(value or b"")
            except MalformedMessage as exc:
                detail = f"unreadable record on {read_at.topic}: {exc.detail}"
                return malformed(value, key.petition_id, detail, read_at, now)
        duplicate = rejection(
            petition_id=record["petition_id"],
            reason=Reason.DUPLICATE,
            detail=duplicate_detail(record["petition_id"], winner),
            signature_id=record["signature_id"],
            hashed_email=record["email_hash"],
            received_at=now,
            position=SourcePosition(
                record["source_topic"],
                record["source_partition"],
                record["source_offset"],
                record.get("source_index") or 0,
            ),
        )
        value = codec("SignatureRejected").encode(duplicate.record)
        return Output(
            Route.DUPLICATES, key.encode(), value, Outcome.DUPLICATE.value, read_at.partition
        )


def _signer_event(
    record_type: str,
    key: bytes | None,
    value: bytes | None,
    read_at: SourcePosition,
    now: datetime,
) -> tuple[dict[str, Any], DedupeKey] | Output:
    """A record about one signer (a confirmation, a moderation) and its dedupe key, or
    the dead letter of one that cannot be read or names another signer than its key."""
    try:
        record = codec(record_type).decode(value or b"")
        dedupe_key = DedupeKey.parse(key or b"")
    except (MalformedMessage, ValueError) as exc:
        detail = getattr(exc, "detail", str(exc))
        detail = f"unreadable record on {read_at.topic}: {detail}"
        return malformed(value, DedupeKey.petition_of(key), detail, read_at, now)
    if (record["petition_id"], record["email_hash"]) != (
        dedupe_key.petition_id,
        dedupe_key.email_hash,
    ):
        detail = f"the record on {read_at.topic} names another signer than its key"
        return malformed(value, dedupe_key.petition_id, detail, read_at, now)
    return record, dedupe_key


def _candidate_of(
    key: bytes | None,
    value: bytes | None,
    header: bytes | None,
    partition: int,
    candidate_of: Callable[[dict[str, Any], int], Winner],
) -> tuple[DedupeKey, Winner]:
    """The signer and the entry a record of signatures.valid asks for; what the table
    would keep is checked first (a hash that is a hash, a country with a region), so
    a record no validate wrote cannot put an entry there that breaks a later read."""
    if header is not None and key:
        try:
            sent = Winner.decode(header)
            dedupe_key, candidate = (
                DedupeKey.parse(key),
                Winner(
                    sent.country,
                    sent.partition,
                    sent.offset,
                    partition,
                    sent.index,
                    sent.status,
                    leaf=sent.leaf,
                ),
            )
        except (ValueError, UnicodeDecodeError):
            pass  # not ours after all: read the record itself
        else:
            return _checked(dedupe_key, candidate)
    record = codec("SignatureAccepted").decode(value)
    dedupe_key = DedupeKey(record["petition_id"], record["email_hash"])
    return _checked(dedupe_key, candidate_of(record, partition))


def _checked(dedupe_key: DedupeKey, candidate: Winner) -> tuple[DedupeKey, Winner]:
    if not is_email_hash(dedupe_key.email_hash):
        raise MalformedMessage("its email_hash is not a hex HMAC-SHA256")
    if not has_region(candidate.country):
        raise MalformedMessage("its country is not one the regions know")
    return dedupe_key, candidate
