"""The validate agent's whole decision, as one pure function.

``judge`` takes the raw bytes of a ``signatures.submitted`` record and everything it
depends on (the catalogue, the clock, the hash key) as arguments, and returns either
a ``SignatureAccepted`` record with its dedupe key or a ``SignatureRejected`` record.
Rules apply in docs/architecture.md's precedence order; the first broken one is the reason.

Dead letters carry no personal data: a rejection's ``detail`` says what is wrong
without repeating the value (the rule functions word it so), and of the original
bytes it keeps at most their single-object header (``evidence``). The whole event stays
in the audit log, at the source position every rejection carries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.codec import HEADER_SIZE, MARKER, AvroCodec, codec
from streams.core.errors import MalformedMessage
from streams.rules.countries import normalize_country, region_of
from streams.rules.email import email_hash, normalize_email
from streams.rules.keys import DedupeKey, petition_of_key, submission_key
from streams.rules.names import clean_name
from streams.rules.network import network_of
from streams.rules.petitions import PetitionWindow, check_not_future, check_size, check_window
from streams.rules.reasons import Reason, RuleViolation

Record = dict[str, Any]
#: A user agent is kept for abuse analysis, not in full.
MAX_USER_AGENT = 200


@dataclass(frozen=True)
class SourcePosition:
    """Where an event sits in the audit log: what makes every count provable. ``index``
    is its place in a record that carries several (``schemas.batch``), else 0."""

    topic: str
    partition: int
    offset: int
    index: int = 0


@dataclass(frozen=True)
class Accepted:
    dedupe_key: DedupeKey
    record: Record  # a SignatureAccepted
    #: The submission key this signer's submissions should carry (rules.keys): it
    #: names the signer's home partition, whatever key the event arrived with.
    submission_key: bytes
    #: Where to send the confirmation mail (the address as typed, trimmed) when the
    #: petition asks for one; the only clear address that travels past validate.
    mail_to: str | None = None
    #: ``(key id, hash)`` of the email under each key used before a rotation: a signer
    #: who signed under one of them is the same signer (``DedupeLedger.settle``).
    previous_hashes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Rejected:
    petition_id: str
    record: Record  # a SignatureRejected

    @property
    def reason(self) -> Reason:
        return Reason(self.record["reason"])


def evidence(original: bytes | None) -> bytes | None:
    """What a dead letter keeps of an event's bytes: the single-object header (marker
    and schema fingerprint: which writer, never what it wrote) when the bytes start
    with the marker, else only their first two bytes (what ``BadMarker`` reports; no
    email address fits in two bytes). The rest may be anyone's name and address."""
    if original is None:
        return None
    if original[: len(MARKER)] == MARKER:
        return bytes(original[:HEADER_SIZE])
    return bytes(original[: len(MARKER)])


def rejection(
    *,
    petition_id: str,
    reason: Reason,
    detail: str,
    position: SourcePosition,
    received_at: datetime,
    signature_id: str | None = None,
    hashed_email: str | None = None,
    original: bytes | None = None,
) -> Rejected:
    """A SignatureRejected record. ``original``: the event's bytes when it could not be
    decoded; only their ``evidence`` is kept."""
    return Rejected(
        petition_id,
        {
            "signature_id": signature_id,
            "petition_id": petition_id,
            "reason": reason.value,
            "detail": detail,
            "email_hash": hashed_email,
            "original": evidence(original),
            "received_at": received_at,
            "source_topic": position.topic,
            "source_partition": position.partition,
            "source_offset": position.offset,
            "source_index": position.index,
        },
    )


def judge(
    raw: bytes | None,
    key: bytes | None,
    position: SourcePosition,
    *,
    petitions: Callable[[str], PetitionWindow | None] | Mapping[str, PetitionWindow],
    now: datetime,
    hash_key: bytes,
    submitted_codec: AvroCodec | None = None,
    hash_key_id: str = "",
    previous_keys: Sequence[tuple[str, bytes]] = (),
) -> Accepted | Rejected:
    """The verdict on one submitted event. Never raises on bad input. ``hash_key_id``
    names ``hash_key`` in the record; ``previous_keys`` are the keys before a rotation."""
    lookup = petitions.get if isinstance(petitions, Mapping) else petitions
    key_petition = petition_of_key(key)

    def reject(reason: Reason, detail: str, **extra: Any) -> Rejected:
        return rejection(
            petition_id=extra.pop("petition_id", key_petition),
            reason=reason,
            detail=detail,
            position=position,
            received_at=now,
            **extra,
        )

    if raw is None:
        return reject(Reason.MALFORMED, "the record has no value", original=None)
    try:
        check_size(len(raw))
    except RuleViolation as violation:
        return reject(violation.reason, violation.detail)
    try:
        event = (submitted_codec or codec("SignatureSubmitted")).decode(raw)
    except MalformedMessage as exc:
        return reject(Reason.MALFORMED, exc.detail, original=raw)

    petition_id: str = event["petition_id"]
    signature_id: str = event["signature_id"]
    submitted_at: datetime = event["submitted_at"]
    petition = lookup(petition_id)
    try:
        if petition is None:
            raise RuleViolation(Reason.UNKNOWN_PETITION, "no petition has this id")
        check_not_future(submitted_at, now)
        check_window(petition, submitted_at)
        name = clean_name(event["full_name"])
        country = normalize_country(event["country"])
        normalized = normalize_email(event["email"])
        hashed = email_hash(normalized, hash_key)
    except RuleViolation as violation:
        return reject(
            violation.reason,
            violation.detail,
            petition_id=petition_id,
            signature_id=signature_id,
        )
    return Accepted(
        DedupeKey(petition_id, hashed),
        {
            "signature_id": signature_id,
            "petition_id": petition_id,
            "email_hash": hashed,
            "full_name": name,
            "consent_to_publish_name": event["consent_to_publish_name"],
            "country": country,
            "region": region_of(country),
            "postal_code": event["postal_code"],
            "submitted_at": submitted_at,
            "accepted_at": now,
            "source": event["source"],
            "locale": event["locale"],
            "source_topic": position.topic,
            "source_partition": position.partition,
            "source_offset": position.offset,
            "source_index": position.index,
            "confirmation_required": petition.needs_confirmation,
            "email_domain": normalized.rpartition("@")[2],
            "network": network_of(event["client_ip"]),
            "user_agent": (event["user_agent"] or "")[:MAX_USER_AGENT] or None,
            "email_hash_key_id": hash_key_id,
        },
        submission_key(petition_id, normalized),
        event["email"].strip() if petition.needs_confirmation else None,
        tuple((key_id, email_hash(normalized, key)) for key_id, key in previous_keys),
    )
