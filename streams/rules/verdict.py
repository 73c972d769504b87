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
from streams.rules.keys import (
    SUBMISSION_BUCKETS,
    DedupeKey,
    bucket_key,
    is_email_hash,
    petition_of_key,
    submission_key,
)
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

    try:
        if raw is None:
            raise RuleViolation(Reason.MALFORMED, "the record has no value")
        check_size(len(raw))
        event = (submitted_codec or codec("SignatureSubmitted")).decode(raw)
    except RuleViolation as violation:
        return reject(violation.reason, violation.detail)
    except MalformedMessage as exc:
        return reject(Reason.MALFORMED, exc.detail, original=raw)
    petition_id: str = event["petition_id"]
    hashes = _signer_problem_or_hashes(event, hash_key_id, [k for k, _ in previous_keys])
    if isinstance(hashes, str):
        return reject(Reason.MALFORMED, hashes, petition_id=petition_id, original=raw)
    petition = lookup(petition_id)
    try:
        if petition is None:
            raise RuleViolation(Reason.UNKNOWN_PETITION, "no petition has this id")
        check_not_future(event["submitted_at"], now)
        check_window(petition, event["submitted_at"])
        if hashes is None:
            return _accept_clear(
                event,
                petition,
                position,
                now=now,
                hash_key=hash_key,
                hash_key_id=hash_key_id,
                previous_keys=previous_keys,
            )
        return _accept_sealed(event, petition, position, now=now, hashes=hashes)
    except RuleViolation as violation:
        return reject(
            violation.reason,
            violation.detail,
            petition_id=petition_id,
            signature_id=event["signature_id"],
        )


def _accept_clear(
    event: Mapping[str, Any],
    petition: PetitionWindow,
    position: SourcePosition,
    *,
    now: datetime,
    hash_key: bytes,
    hash_key_id: str,
    previous_keys: Sequence[tuple[str, bytes]],
) -> Accepted:
    """The verdict on a record with clear personal data (``RuleViolation`` for the
    first rule it breaks, in the rules' order: name, country, email)."""
    petition_id: str = event["petition_id"]
    name = clean_name(event["full_name"])
    country = normalize_country(event["country"])
    normalized = normalize_email(event["email"])
    hashed = email_hash(normalized, hash_key)
    return Accepted(
        DedupeKey(petition_id, hashed),
        _accepted_record(event, country, petition, position, now)
        | {
            "email_hash": hashed,
            "full_name": name,
            "postal_code": event["postal_code"],
            "email_domain": normalized.rpartition("@")[2],
            "network": network_of(event["client_ip"]),
            "user_agent": (event["user_agent"] or "")[:MAX_USER_AGENT] or None,
            "email_hash_key_id": hash_key_id,
        },
        submission_key(petition_id, normalized),
        event["email"].strip() if petition.needs_confirmation else None,
        tuple((key_id, email_hash(normalized, key)) for key_id, key in previous_keys),
    )


def _signer_problem_or_hashes(
    event: Mapping[str, Any], hash_key_id: str, previous_key_ids: Sequence[str]
) -> Hashes | str | None:
    """None for a record with clear personal data; the hashes of a sealed one
    (``sealed_hashes``); or why the record is malformed."""
    sealed = event.get("sealed")
    if sealed is not None:
        return sealed_hashes(sealed, hash_key_id, previous_key_ids)
    if event["full_name"] is None or event["email"] is None:
        return "neither clear nor sealed personal data"
    return None


#: The email hash under this worker's key, and under each of its previous keys.
Hashes = tuple[str, tuple[tuple[str, str], ...]]


def sealed_hashes(
    sealed: Mapping[str, Any], hash_key_id: str, previous_key_ids: Sequence[str]
) -> Hashes | str:
    """The hashes a sealed record gives under this worker's keys, or what is wrong.

    The sealer hashed the email under its current key and its previous ones; the
    worker's current key must be among them (an intake and a worker in the middle of a
    rotation may differ in which is current). ``hash_key_id`` "" takes the sealer's."""
    if sealed["email_problem"] is not None:
        return "", ()  # rejected as invalid_email, in its turn: no hash to check
    given = {sealed["email_hash_key_id"]: sealed["email_hash"]}
    given |= {p["key_id"]: p["email_hash"] for p in sealed["previous_hashes"]}
    current = given.get(hash_key_id or sealed["email_hash_key_id"])
    if current is None:
        return (
            f"sealed with email-hash keys {sorted(given)}, none of them this worker's "
            f"current key {hash_key_id}"
        )
    if not all(is_email_hash(digest) for digest in given.values()):
        return "a sealed record's email hash is not a hex HMAC-SHA256"
    previous = tuple((k, given[k]) for k in previous_key_ids if k in given)
    return current, previous


def _accept_sealed(
    event: Mapping[str, Any],
    petition: PetitionWindow,
    position: SourcePosition,
    *,
    now: datetime,
    hashes: Hashes,
) -> Accepted:
    """The verdict on a sealed record: the rules that need personal data were applied
    where it was sealed (``streams.rules.sealing``), their outcome is in clear here
    (``RuleViolation`` in the rules' order: name, country, email)."""
    sealed = event["sealed"]
    if sealed["name_problem"] is not None:
        raise RuleViolation(Reason.INVALID_NAME, sealed["name_problem"])
    country = normalize_country(event["country"])
    if sealed["email_problem"] is not None:
        raise RuleViolation(Reason.INVALID_EMAIL, sealed["email_problem"])
    hashed, previous = hashes
    petition_id: str = event["petition_id"]
    return Accepted(
        DedupeKey(petition_id, hashed),
        _accepted_record(event, country, petition, position, now)
        | {
            "email_hash": hashed,
            "full_name": "",
            "postal_code": None,
            "email_domain": sealed["email_domain"],
            "network": sealed["network"],
            "user_agent": None,
            "email_hash_key_id": sealed["email_hash_key_id"],
            "personal": sealed["personal"],
            "data_key_id": sealed["key_id"],
        },
        bucket_key(petition_id, sealed["bucket"] % SUBMISSION_BUCKETS),
        None,  # the mail goes to the sealed address: the mailer opens it
        previous,
    )


def _accepted_record(
    event: Mapping[str, Any],
    country: str,
    petition: PetitionWindow,
    position: SourcePosition,
    now: datetime,
) -> Record:
    """What a SignatureAccepted says of any accepted submission, clear or sealed."""
    return {
        "signature_id": event["signature_id"],
        "petition_id": event["petition_id"],
        "consent_to_publish_name": event["consent_to_publish_name"],
        "country": country,
        "region": region_of(country),
        "submitted_at": event["submitted_at"],
        "accepted_at": now,
        "source": event["source"],
        "locale": event["locale"],
        "source_topic": position.topic,
        "source_partition": position.partition,
        "source_offset": position.offset,
        "source_index": position.index,
        "confirmation_required": petition.needs_confirmation,
    }
