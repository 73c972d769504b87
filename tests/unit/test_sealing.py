"""A sealed submission (docs/privacy.md) is judged like the clear one, without its
personal data in clear: same dedupe key, same home, same reasons in the same order.
Expected hashes and buckets are computed here from hand-normalized addresses."""

from __future__ import annotations

import hashlib
import hmac
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.codec import AvroCodec
from schemas.sealed import DataKey, open_personal
from streams.audit.recount import Recount
from streams.core.logscan import LogRecord
from streams.rules.keys import DedupeKey, signer_key_key
from streams.rules.petitions import PetitionWindow
from streams.rules.sealing import PERSONAL_FIELDS, seal_submission, signer_facts
from streams.rules.verdict import Accepted, Rejected, SourcePosition, judge
from streams.signerkeys.keyring import Keyring
from tests.unit.test_keyring import record

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PETITIONS = {"open": PetitionWindow("open", datetime(2026, 1, 1, tzinfo=UTC), None)}
POSITION = SourcePosition("signatures.submitted", 3, 42)
CODEC = AvroCodec("SignatureSubmitted")
HASH_KEY = b"hash-key-of-the-tests-32-bytes-!"
OLD_KEY = b"the-key-before-the-rotation-32b!"
DATA_KEY = DataKey("00112233aabbccdd", bytes(range(32)))
NORMALIZED = "layla@example.org"  # "Layla+sign@Example.org", by the rules' steps


def event(**changes: Any) -> dict[str, Any]:
    return {
        "signature_id": "sig-1",
        "petition_id": "open",
        "full_name": "Layla Haddad",
        "email": "Layla+sign@Example.org",
        "country": "sy",
        "postal_code": "1011",
        "consent_to_publish_name": True,
        "submitted_at": NOW - timedelta(minutes=1),
        "source": "web-form",
        "client_ip": "203.0.113.9",
        "user_agent": "Firefox",
        "locale": "ar-SY",
        "referrer": "https://campaign.example/",
    } | changes


def sealed(
    record: dict[str, Any], key_id: str = "k1", previous: tuple[tuple[str, bytes], ...] = ()
) -> bytes:
    facts = signer_facts(record, hash_key=HASH_KEY, hash_key_id=key_id, previous_keys=previous)
    return CODEC.encode(seal_submission(record, facts, DATA_KEY))


def verdict_of(raw: bytes, **options: Any) -> Accepted | Rejected:
    return judge(
        raw,
        b"open",
        POSITION,
        petitions=PETITIONS,
        now=NOW,
        hash_key=HASH_KEY,
        **({"hash_key_id": "k1"} | options),
    )


def hex_hmac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def test_a_sealed_record_holds_no_personal_field_in_clear() -> None:
    raw = sealed(event())
    for value in ("Layla Haddad", "Layla+sign@Example.org", "layla", "1011", "203.0.113.9"):
        assert value.encode() not in raw
    assert all(CODEC.decode(raw)[name] is None for name in PERSONAL_FIELDS)


def test_a_sealed_signature_is_accepted_under_the_clear_ones_dedupe_key_and_home() -> None:
    verdict = verdict_of(sealed(event()))
    clear = verdict_of(CODEC.encode(event()))
    assert isinstance(verdict, Accepted) and isinstance(clear, Accepted)
    assert str(verdict.dedupe_key) == f"open:{hex_hmac(HASH_KEY, NORMALIZED)}"
    assert verdict.dedupe_key == clear.dedupe_key
    bucket = zlib.crc32(NORMALIZED.encode()) % 256
    assert verdict.submission_key == clear.submission_key == f"open/{bucket:03d}".encode()


def test_a_sealed_accepted_record_carries_the_facts_and_the_sealed_data_only() -> None:
    verdict = verdict_of(sealed(event()))
    assert isinstance(verdict, Accepted)
    record = verdict.record
    assert (record["country"], record["email_domain"], record["network"]) == (
        "SY",
        "example.org",
        "203.0.113.0/24",
    )
    assert (record["full_name"], record["postal_code"], record["user_agent"]) == ("", None, None)
    assert (record["data_key_id"], verdict.mail_to) == (DATA_KEY.key_id, None)
    opened = open_personal(DATA_KEY, record["personal"], "open", "sig-1")
    assert opened == {name: event()[name] for name in PERSONAL_FIELDS}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"full_name": "  "}, "invalid_name"),
        ({"email": "no-at-sign"}, "invalid_email"),
        ({"full_name": "", "email": "no-at-sign"}, "invalid_name"),  # name first
        ({"country": "QQ", "email": "no-at-sign"}, "invalid_country"),  # country before email
        ({"petition_id": "nope", "full_name": ""}, "unknown_petition"),
    ],
)
def test_a_sealed_record_breaks_the_rules_in_the_clear_ones_order(
    changes: dict[str, Any], reason: str
) -> None:
    verdict = verdict_of(sealed(event(**changes)))
    clear = verdict_of(CODEC.encode(event(**changes)))
    assert isinstance(verdict, Rejected) and isinstance(clear, Rejected)
    assert verdict.record["reason"] == reason == clear.record["reason"]


def test_a_sealed_record_whose_hash_is_not_a_hash_is_malformed() -> None:
    record = event()
    facts = signer_facts(record, hash_key=HASH_KEY, hash_key_id="k1")
    bad = seal_submission(record, facts, DATA_KEY)
    bad["sealed"]["email_hash"] = "Layla+sign@Example.org"
    verdict = verdict_of(CODEC.encode(bad))
    assert isinstance(verdict, Rejected) and verdict.record["reason"] == "malformed"


def test_a_record_with_neither_clear_nor_sealed_personal_data_is_malformed() -> None:
    verdict = verdict_of(CODEC.encode(event(full_name=None, email=None)))
    assert isinstance(verdict, Rejected)
    assert verdict.record["detail"] == "neither clear nor sealed personal data"


def test_a_record_sealed_under_another_hash_key_only_is_malformed_and_says_which() -> None:
    verdict = verdict_of(sealed(event(), key_id="k0"))
    assert isinstance(verdict, Rejected) and verdict.record["reason"] == "malformed"
    assert "k0" in verdict.record["detail"] and "k1" in verdict.record["detail"]


def test_a_worker_that_rotated_first_takes_the_sealers_previous_hash() -> None:
    # The intake rotated to k2 (k1 now previous); this worker still hashes with k1.
    raw = sealed(event(), key_id="k2", previous=(("k1", HASH_KEY),))
    verdict = verdict_of(raw, hash_key_id="k1")
    assert isinstance(verdict, Accepted)
    assert verdict.dedupe_key.email_hash == hex_hmac(HASH_KEY, NORMALIZED)


def test_the_previous_hashes_of_a_sealed_record_are_those_of_the_workers_old_keys() -> None:
    raw = sealed(event(), previous=(("k0", OLD_KEY),))
    verdict = verdict_of(raw, previous_keys=[("k0", OLD_KEY)])
    assert isinstance(verdict, Accepted)
    assert verdict.previous_hashes == (("k0", hex_hmac(OLD_KEY, NORMALIZED)),)


def test_the_recount_takes_a_sealed_records_hash_under_the_workers_key() -> None:
    # The intake rotated to k2 (k1 previous); the recount, like the worker, hashes with
    # k1: the sealed record and a clear one of the same signer are one signer.
    sealed_raw = sealed(event(), key_id="k2", previous=(("k1", HASH_KEY),))
    clear_raw = CODEC.encode(event(signature_id="sig-2", email="layla@example.org"))
    recount = Recount(PETITIONS, HASH_KEY, "signatures.submitted", hash_key_id="k1", partitions=6)
    for offset, raw in enumerate((sealed_raw, clear_raw)):
        recount.add(LogRecord(0, offset, NOW.timestamp(), b"open", raw))
    assert sum(recount.counts().values()) == 1
    assert dict(recount.rejected) == {("open", "duplicate"): 1}


def test_a_key_is_found_by_its_petition_and_id_whatever_hash_it_is_filed_under() -> None:
    ring = Keyring()
    filed = DedupeKey("open", hex_hmac(b"another-key", NORMALIZED))
    ring.apply(signer_key_key(filed, DATA_KEY.key_id), record(filed, DATA_KEY.key_id))
    found = ring.by_id("open", DATA_KEY.key_id)
    assert found is not None and found.dedupe_key == filed
    assert ring.by_id("other", DATA_KEY.key_id) is None
    ring.apply(signer_key_key(filed, DATA_KEY.key_id), None)
    assert ring.by_id("open", DATA_KEY.key_id) is None
