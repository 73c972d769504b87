"""Every key format of the pipeline, and the partition each key lands on.

One home for each: the intake, the publisher, the simulator and every agent call
these functions, so a key is never built or parsed a second way.

* ``signatures.submitted``: ``petition_id/bucket``, the bucket derived from the
  normalized email, so one signer's submissions for a petition share a partition (first
  wins by log order) while a popular petition spreads over all of them. A plain
  ``petition_id`` key (older producers) stays valid.
* A signer's **home partition**: where Kafka's default partitioner (murmur2, as Java
  and our producers' ``murmur2_random``) puts their submission key. The dedupe table
  entry of (petition, email) lives in that partition, so a submission that arrives
  there is settled where it is read, and only the others travel through
  ``signatures.valid`` (``streams.rules.placement`` computes it).
* ``signatures.valid`` / ``accepted`` / ``duplicates``: the dedupe key
  ``petition_id:email_hash``, on the signer's home partition.
* ``keys.signers``: the dedupe key, ``/``, the data key's id.
* ``counts.regional``: ``petition_id:country``; the internal partial counts: the
  plain ``petition_id`` (every partition's numbers of a petition meet in one place).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from streams.rules.email import normalize_email
from streams.rules.reasons import RuleViolation

#: Buckets per petition on signatures.submitted: enough to spread one petition over
#: any realistic partition count, few enough to say nothing about an address.
SUBMISSION_BUCKETS = 256
#: Length of the binary digest at the end of a winner key (HMAC-SHA256).
_DIGEST_BYTES = 32


def submission_key(petition_id: str, normalized_email: str) -> bytes:
    """``petition_id/bucket``, the bucket a CRC32 of the normalized address."""
    return bucket_key(
        petition_id, zlib.crc32(normalized_email.encode("utf-8")) % SUBMISSION_BUCKETS
    )


def bucket_key(petition_id: str, bucket: int) -> bytes:
    """The submission key of a bucket (a sealed record carries its bucket, not the
    address it comes from)."""
    return f"{petition_id}/{bucket:03d}".encode()


def petition_of_key(key: bytes | None) -> str:
    """The petition a submitted record's key names: the part before ``/``. Only for
    records that cannot be decoded; a decoded record names its petition itself."""
    return (key or b"").decode("utf-8", errors="replace").split("/", 1)[0]


@dataclass(frozen=True, slots=True)
class DedupeKey:
    """One accepted signature per key: a petition and the keyed hash of an email.

    On signatures.valid, accepted and duplicates it travels as ``petition_id:email_hash``
    (petition ids hold no ``:``); in the dedupe table as the petition and the 32-byte
    digest (``table_key``): half the bytes per remembered signer."""

    petition_id: str
    email_hash: str  # 64 hex digits

    def __str__(self) -> str:
        return f"{self.petition_id}:{self.email_hash}"

    def encode(self) -> bytes:
        return str(self).encode()

    @classmethod
    def parse(cls, raw: bytes) -> DedupeKey:
        """The key of a record; ``ValueError`` if it is not one."""
        petition_id, colon, email_hash = raw.decode().rpartition(":")
        if not colon or len(email_hash) != _DIGEST_BYTES * 2:
            raise ValueError(f"not a dedupe key: {raw[:80]!r}")
        bytes.fromhex(email_hash)  # ValueError unless hex
        return cls(petition_id, email_hash)

    @staticmethod
    def petition_of(raw: bytes | None) -> str:
        """The petition a record's key names, for records that cannot be decoded."""
        return (raw or b"").decode("utf-8", errors="replace").rpartition(":")[0]

    def table_key(self) -> bytes:
        return self.petition_id.encode() + b":" + bytes.fromhex(self.email_hash)

    @staticmethod
    def petition_of_table_key(key: bytes) -> str:
        return key[: -_DIGEST_BYTES - 1].decode()


def is_email_hash(text: str) -> bool:
    """Whether ``text`` is an email hash as the rules make it: hex HMAC-SHA256."""
    return _EMAIL_HASH.fullmatch(text) is not None


_EMAIL_HASH = re.compile(f"[0-9a-f]{{{_DIGEST_BYTES * 2}}}")


#: A key id: 16 hex digits (``schemas.sealed.DataKey``).
_KEY_ID = re.compile("[0-9a-f]{16}")


def signer_key_key(dedupe_key: DedupeKey, key_id: str) -> bytes:
    """Key of ``keys.signers``: the dedupe key, ``/``, the data key's id. A signer
    may hold several keys for one petition (two intakes that made one at once), and
    compaction must keep each: every sealed record names the one it was sealed under."""
    return f"{dedupe_key}/{key_id}".encode()


def parse_signer_key_key(raw: bytes) -> tuple[DedupeKey, str]:
    """The dedupe key and key id of a ``keys.signers`` key; ``ValueError`` if not one."""
    dedupe, slash, key_id = raw.decode("utf-8", "replace").rpartition("/")
    if not slash or _KEY_ID.fullmatch(key_id) is None:
        raise ValueError(f"not a signer key's key: {raw[:80]!r}")
    return DedupeKey.parse(dedupe.encode()), key_id


def count_key(petition_id: str, country: str) -> str:
    """Key of ``counts.regional``: petition_id + country."""
    return f"{petition_id}:{country}"


def key_spelling(email: str) -> str:
    """An address as keys use it: normalized, or trimmed and lower-cased when it
    cannot be (such a submission will be rejected anyway, and its resends still share
    a partition and a key)."""
    try:
        return normalize_email(email)
    except RuleViolation:
        return email.strip().lower()


def submission_bucket(email: str) -> int:
    """The bucket of an address as typed (``submission_key``)."""
    return zlib.crc32(key_spelling(email).encode("utf-8")) % SUBMISSION_BUCKETS


def submission_key_for(petition_id: str, email: str) -> bytes:
    """``submission_key`` of an address as typed."""
    return bucket_key(petition_id, submission_bucket(email))
