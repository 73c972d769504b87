"""Sealing a submission before it reaches Kafka (docs/privacy.md), as pure functions.

Whoever seals (the intake, the publisher library) applies here the rules that need
the personal data, with the same functions the worker applies to clear records, and
writes their outcome in clear beside the sealed data (``SignerFacts``): the worker
then judges a sealed record without ever opening it, and counts it exactly as it would
have counted the clear one. A record sealed or clear lands on the same home partition
and under the same dedupe key, so a signer cannot sign twice by mixing the two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.sealed import DataKey, seal_personal
from streams.rules.email import email_hash, normalize_email
from streams.rules.keys import DedupeKey, key_spelling, submission_bucket
from streams.rules.names import clean_name
from streams.rules.network import network_of
from streams.rules.reasons import RuleViolation

#: What a SignatureSubmitted holds that may identify a person: sealed, and null in
#: clear (schemas/avro/PersonalData.v1.avsc).
PERSONAL_FIELDS = ("full_name", "email", "postal_code", "client_ip", "user_agent", "referrer")


@dataclass(frozen=True)
class SignerFacts:
    """What the rules need of a signer's personal data, worked out before sealing."""

    #: The scope of the signer's data key: the dedupe key, or for an address that
    #: breaks the email rule, the hash of its trimmed lower-case spelling (so that
    #: ``countersign erase`` still finds it).
    key_scope: DedupeKey
    email_hash: str  # "" when the email breaks its rule
    email_hash_key_id: str
    previous_hashes: tuple[tuple[str, str], ...]
    email_domain: str
    network: str | None
    bucket: int
    name_problem: str | None
    email_problem: str | None


def key_scope_hash(email: str, hash_key: bytes) -> str:
    """The hash a signer's data key is filed under: the email hash of the address as
    keys spell it (``key_spelling``), valid or not."""
    return email_hash(key_spelling(email), hash_key)


def signer_facts(
    record: Mapping[str, Any],
    *,
    hash_key: bytes,
    hash_key_id: str,
    previous_keys: Sequence[tuple[str, bytes]] = (),
) -> SignerFacts:
    """The facts of a clear SignatureSubmitted record (v1-v3 fields)."""
    email: str = record["email"]
    try:
        clean_name(record["full_name"])
        name_problem = None
    except RuleViolation as violation:
        name_problem = violation.detail
    try:
        normalized: str | None = normalize_email(email)
        email_problem = None
    except RuleViolation as violation:
        normalized, email_problem = None, violation.detail
    hashed, domain = "", ""
    previous: tuple[tuple[str, str], ...] = ()
    if normalized is not None:
        hashed = email_hash(normalized, hash_key)
        previous = tuple((key_id, email_hash(normalized, key)) for key_id, key in previous_keys)
        domain = normalized.rpartition("@")[2]
    return SignerFacts(
        key_scope=DedupeKey(record["petition_id"], hashed or key_scope_hash(email, hash_key)),
        email_hash=hashed,
        email_hash_key_id=hash_key_id,
        previous_hashes=previous,
        email_domain=domain,
        network=network_of(record.get("client_ip")),
        bucket=submission_bucket(email),
        name_problem=name_problem,
        email_problem=email_problem,
    )


def seal_submission(
    record: Mapping[str, Any], facts: SignerFacts, data_key: DataKey
) -> dict[str, Any]:
    """The SignatureSubmitted (v3) record with its personal data sealed under
    ``data_key`` (the key of ``facts.key_scope``) and null in clear."""
    personal = {name: record.get(name) for name in PERSONAL_FIELDS}
    sealed = {
        "personal": seal_personal(
            data_key, personal, record["petition_id"], record["signature_id"]
        ),
        "key_id": data_key.key_id,
        "email_hash": facts.email_hash,
        "email_hash_key_id": facts.email_hash_key_id,
        "previous_hashes": [
            {"key_id": key_id, "email_hash": digest} for key_id, digest in facts.previous_hashes
        ],
        "email_domain": facts.email_domain,
        "network": facts.network,
        "bucket": facts.bucket,
        "name_problem": facts.name_problem,
        "email_problem": facts.email_problem,
    }
    return {**record, **dict.fromkeys(PERSONAL_FIELDS), "sealed": sealed}
