"""An independent reference implementation of docs/architecture.md's rules.

It shares no code with ``streams``: it parses the wire format with fastavro and its
own header check, normalizes emails with the standard library's IDNA codec, and
validates countries with pycountry. The pipeline's counts must equal what it computes.
"""

from __future__ import annotations

import csv
import encodings.idna  # noqa: F401  (registers the "idna" codec)
import hashlib
import hmac
import io
import json
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
import pycountry
from fastavro.schema import fingerprint, to_parsing_canonical_form

REPO = Path(__file__).resolve().parents[2]
REGION_FILE = REPO / "streams" / "regions" / "five_regions.csv"
COUNTRIES = {c.alpha_2 for c in pycountry.countries} | {"XK"}


def _writer_schemas() -> dict[bytes, Any]:
    schemas = {}
    for path in (REPO / "schemas" / "avro").glob("SignatureSubmitted.v*.avsc"):
        parsed = fastavro.parse_schema(json.loads(path.read_text()))
        fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
        schemas[fp] = parsed
    return schemas


WRITERS = _writer_schemas()


def regions() -> dict[str, str]:
    with REGION_FILE.open(encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    return {row["code"]: row["region"] for row in csv.DictReader(lines)}


def decode(raw: bytes) -> dict[str, Any] | None:
    if len(raw) < 10 or raw[:2] != b"\xc3\x01" or raw[2:10] not in WRITERS:
        return None
    body = io.BytesIO(raw[10:])
    try:
        record = fastavro.schemaless_reader(body, WRITERS[raw[2:10]], None)
    except Exception:
        return None
    if not isinstance(record, dict) or body.tell() != len(raw) - 10:
        return None
    return record


def normalized_email(raw: str) -> str | None:
    # Spaces, controls, surrogates and line/paragraph separators anywhere, tag included.
    unmailable = {"Cc", "Cs", "Zs", "Zl", "Zp"}
    text = unicodedata.normalize("NFC", raw.strip()).lower()
    parts = text.split("@")
    if len(parts) != 2 or any(c.isspace() or unicodedata.category(c) in unmailable for c in text):
        return None
    local, domain = parts
    if any(c in '()<>[]:;\\,"' for c in local):  # comments, lists, quotes
        return None
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    if "+" in local:
        local = local[: local.index("+")]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    if not local or "." not in domain or any(c.isspace() or ord(c) < 32 for c in local):
        return None
    labels = domain.split(".")
    if any(not label or label.startswith("-") or label.endswith("-") for label in labels):
        return None
    return f"{local}@{domain}"


def name_ok(name: str) -> bool:
    trimmed = name.strip()
    return 0 < len(trimmed) <= 200 and all(unicodedata.category(c) != "Cc" for c in trimmed)


@dataclass
class Truth:
    """Expected outcome of a dataset: counts per (petition, region, country) and reasons."""

    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)

    def total_accepted(self) -> int:
        return sum(self.counts.values())

    def total_rejected(self) -> int:
        return sum(self.reasons.values())


def expected(
    events: list[tuple[bytes, bytes]],
    petitions: dict[str, tuple[datetime, datetime | None]],
    now: datetime,
    hash_key: bytes,
) -> Truth:
    """Run the rules over ``events`` (key, value) in production order."""
    region = regions()
    truth = Truth()
    seen_keys: set[tuple[str, str]] = set()
    for key, raw in events:
        key_petition = key.decode().partition("/")[0]
        if len(raw) > 16 * 1024:
            truth.reasons[key_petition, "oversized"] += 1
            continue
        event = decode(raw)
        if event is None:
            truth.reasons[key_petition, "malformed"] += 1
            continue
        petition = event["petition_id"]
        submitted = event["submitted_at"]
        email = normalized_email(event["email"])
        country = event["country"].strip().upper()
        if petition not in petitions:
            reason = "unknown_petition"
        elif submitted > now + timedelta(minutes=5):
            reason = "future_timestamp"
        elif not (
            petitions[petition][0] <= submitted
            and (petitions[petition][1] is None or submitted < petitions[petition][1])
        ):
            reason = "petition_closed"
        elif not name_ok(event["full_name"]):
            reason = "invalid_name"
        elif country not in COUNTRIES:
            reason = "invalid_country"
        elif email is None:
            reason = "invalid_email"
        else:
            digest = hmac.new(hash_key, email.encode(), hashlib.sha256).hexdigest()
            if (petition, digest) in seen_keys:  # the dedupe key alone decides
                reason = "duplicate"
            else:
                seen_keys.add((petition, digest))
                truth.counts[petition, region[country], country] += 1
                continue
        truth.reasons[petition, reason] += 1
    return truth
