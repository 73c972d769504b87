"""Schema evolution: readers resolve any shipped writer version to their own."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime

from schemas.codec import SCHEMA_DIR, AvroCodec, default_registry

V1_RECORD = {
    "signature_id": "s-1",
    "petition_id": "p-1",
    "full_name": "Amani Nkosi",
    "email": "amani@example.org",
    "country": "ZA",
    "postal_code": "8001",
    "consent_to_publish_name": False,
    "submitted_at": datetime(2026, 1, 1, tzinfo=UTC),
    "source": "api",
    "client_ip": None,
    "user_agent": "curl/8",
    "locale": "en-ZA",
}

# Fingerprints of released schema versions never change: old messages in the audit
# log name their writer by it. A new version is a new file, never an edit.
RELEASED_FINGERPRINTS = {
    ("ConfirmationMail", 1): "a6606697917c6c42",
    ("ConfirmationMail", 2): "885cff3fa3bd86c3",
    ("LogChange", 1): "8729dd5f8134f6cf",
    ("LogHead", 1): "e13d9c75a7a91273",
    ("LogLeaf", 1): "36ca02fbaef63ac4",
    ("MailFailure", 1): "058ec1df5cda6baa",
    ("MailHistory", 1): "ff4f94eea635615e",
    ("PartialCount", 1): "12914f2dea1156f0",
    ("PartialCount", 2): "7d1cde75b4e3bf4e",
    ("PartialCount", 3): "3ca8e2fb335ddffe",
    ("Petition", 1): "01a77d4c6ca62c56",
    ("Petition", 2): "ded41b60aca8e86a",
    ("Petition", 3): "0d828a19b6ca577d",
    ("RegionalCount", 1): "b76c05af425bacc4",
    ("RegionalCount", 2): "c26457cfd70dffa8",
    ("RegionalCount", 3): "1ae97d07d3d4ae4f",
    ("RegionalCount", 4): "adbadf7ee844715f",
    ("SignatureAccepted", 1): "1f24829d901a5093",
    ("SignatureAccepted", 2): "a167d617b9f8e9e7",
    ("SignatureAccepted", 3): "cf68b3d6ee556b09",
    ("SignatureAccepted", 4): "41ab77ee7de90c77",
    ("SignatureAccepted", 5): "f3024a2df02889b2",
    ("SignatureBatch", 1): "ec89e2e10a71bebe",
    ("SignatureConfirmed", 1): "06b7df718aaa6b6c",
    ("SignatureModerated", 1): "d6245ae8c9e67da0",
    ("SignatureRejected", 1): "9f4c78dd064024d7",
    ("SignatureRejected", 2): "98b8d0e30937fc36",
    ("SignatureSubmitted", 1): "f697417f694eea3f",
    ("SignatureSubmitted", 2): "bfb302424d70a685",
    ("SignatureSubmitted", 3): "a3ba873f1033b0c2",
    ("TableWrites", 1): "1c9efac7eff7d9a9",
    ("PersonalData", 1): "b232071c7e7c33e6",
    ("SignerKey", 1): "1c880b14a7d095a6",
    ("Erasure", 1): "cb42e9793da44272",
}


def test_old_writer_new_reader_gets_the_new_field_defaulted() -> None:
    old_bytes = AvroCodec("SignatureSubmitted").encode(V1_RECORD, writer_version=1)
    decoded = AvroCodec("SignatureSubmitted", reader_version=2).decode(old_bytes)
    assert decoded == {**V1_RECORD, "referrer": None}


def test_new_writer_old_reader_drops_the_field_it_does_not_know() -> None:
    new_bytes = AvroCodec("SignatureSubmitted").encode(
        {**V1_RECORD, "referrer": "https://example.org/share"}, writer_version=2
    )
    decoded = AvroCodec("SignatureSubmitted", reader_version=1).decode(new_bytes)
    assert decoded == V1_RECORD


def test_a_v1_regional_count_still_reads_as_a_total_with_nothing_pending() -> None:
    moment = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
    v1 = {
        "petition_id": "p",
        "region": "Europe and Central Asia",
        "country": "FR",
        "signatures": 42,
        "minute": moment,
        "minute_signatures": 3,
        "updated_at": moment,
    }
    decoded = AvroCodec("RegionalCount").decode(
        AvroCodec("RegionalCount").encode(v1, writer_version=1)
    )
    expected = {k: v for k, v in v1.items() if not k.startswith("minute")}
    assert decoded == {**expected, "pending": 0, "version": 0, "cut": None}


def test_a_petition_written_before_confirmation_existed_reads_as_needing_none() -> None:
    moment = datetime(2026, 5, 1, tzinfo=UTC)
    v1 = {"petition_id": "p", "title": "t", "opens_at": moment, "updated_at": moment}
    decoded = AvroCodec("Petition").decode(AvroCodec("Petition").encode(v1, writer_version=1))
    assert decoded["confirmation"] == "none"


def test_a_petition_written_before_retention_existed_keeps_names_until_erased() -> None:
    moment = datetime(2026, 5, 1, tzinfo=UTC)
    v2 = {"petition_id": "p", "title": "t", "opens_at": moment, "updated_at": moment}
    decoded = AvroCodec("Petition").decode(AvroCodec("Petition").encode(v2, writer_version=2))
    assert decoded["retain_names_days"] is None


def test_the_default_reader_is_the_newest_version() -> None:
    newest = max(int(p.stem.split(".v")[1]) for p in SCHEMA_DIR.glob("SignatureSubmitted.v*"))
    assert AvroCodec("SignatureSubmitted").reader.version == newest


def test_released_schema_fingerprints_are_unchanged() -> None:
    shipped = {
        (name, schema.version): schema.fingerprint.hex()
        for name in default_registry().names()
        for schema in default_registry().versions(name)
    }
    assert shipped == RELEASED_FINGERPRINTS


def test_every_new_version_only_adds_fields_with_defaults() -> None:
    for name in default_registry().names():
        versions = [json.loads(p.read_text()) for p in sorted(SCHEMA_DIR.glob(f"{name}.v*"))]
        for older, newer in itertools.pairwise(versions):
            old_names = {f["name"] for f in older["fields"]}
            added = [f for f in newer["fields"] if f["name"] not in old_names]
            assert all("default" in f for f in added), name
