"""Decoded Avro records -> ClickHouse rows. Pure functions of a record and the
partition it was read from; the clear email and the client IP never reach this far
(they are not in SignatureAccepted at all), and a sealed signature's name stays
sealed (``personal``, docs/privacy.md)."""

from __future__ import annotations

import operator
from typing import Any

from streams.rules.cut import Cut

#: Columns of the signatures table filled from the record as it is.
_AS_RECORDED = [
    "petition_id",
    "email_hash",
    "signature_id",
    "full_name",
    "consent_to_publish_name",
    "country",
    "region",
    "submitted_at",
    "accepted_at",
    "source_topic",
    "source_partition",
    "source_offset",
    "source_index",
    "confirmation_required",
    "email_domain",
    "network",
    "user_agent",
]
#: ... then the sealed data and its key, which a clear record has not.
SIGNATURE_COLUMNS = [*_AS_RECORDED, "personal", "data_key_id"]
_recorded = operator.itemgetter(*_AS_RECORDED)
REJECTION_COLUMNS = [
    "petition_id",
    "reason",
    "detail",
    "signature_id",
    "received_at",
    "source_topic",
    "source_partition",
    "source_offset",
    "source_index",
]

REGIONAL_COUNT_COLUMNS = [
    "petition_id",
    "region",
    "country",
    "signatures",
    "pending",
    "version",
    "updated_at",
    "cut",
]
CONFIRMATION_COLUMNS = ["petition_id", "email_hash", "signature_id", "confirmed_at", "source"]
LOG_LEAF_COLUMNS = ["petition_id", "leaf_index", "leaf", "changes", "appended_at"]
LOG_HEAD_COLUMNS = ["petition_id", "tree_size", "signatures", "note", "signed_at"]
MODERATION_COLUMNS = [
    "petition_id",
    "email_hash",
    "signature_id",
    "action",
    "batch_id",
    "reason",
    "actor",
    "at",
]


def signature_row(record: dict[str, Any], partition: int) -> list[Any]:
    """Read from signatures.accepted, whose records sit on their signer's home
    partition: where a confirmation or a moderation of it must go. A clear record
    has no sealed data: ``data_key_id`` is then ''."""
    return [
        *_recorded(record),
        record.get("personal"),
        record.get("data_key_id") or "",
        partition,
    ]


def rejection_row(record: dict[str, Any], partition: int) -> list[Any]:
    """A duplicate is read from signatures.duplicates on its signer's home partition:
    that partition goes with it (``home_partition``; -1 for any other reason)."""
    home = partition if record["reason"] == "duplicate" else -1
    return [*(record[column] for column in REJECTION_COLUMNS), home]


def regional_count_row(
    record: dict[str, Any], _partition: int, cut_json: str | None = None
) -> list[Any]:
    """The cut goes in as compact JSON (``rules.cut.Cut.to_json``; ``cut_json`` when
    the caller has it already); '' when the aggregate did not say."""
    if cut_json is None:
        cut = record.get("cut")
        cut_json = "" if cut is None else Cut.of_records(cut).to_json()
    return [*(record[column] for column in REGIONAL_COUNT_COLUMNS[:-1]), cut_json]


class RegionalCountRows:
    """``regional_count_row`` over a stream of counts, writing each cut's JSON once:
    the counts of one round share their cut, as one object when they are decoded
    by ``schemas.codec.SharedLastField`` (its JSON was 11 % of ``serve``'s CPU)."""

    def __init__(self) -> None:
        self._cut: tuple[object, str] = (None, "")

    def __call__(self, record: dict[str, Any], partition: int) -> list[Any]:
        cut, cut_json = self._cut  # once: the rebuild's thread may use it too
        if record.get("cut") is cut:
            return regional_count_row(record, partition, cut_json)
        row = regional_count_row(record, partition)
        self._cut = (record.get("cut"), row[-1])
        return row


def confirmation_row(record: dict[str, Any], _partition: int) -> list[Any]:
    return [record[column] for column in CONFIRMATION_COLUMNS]


def moderation_row(record: dict[str, Any], _partition: int) -> list[Any]:
    return [record[column] for column in MODERATION_COLUMNS]


def log_leaf_row(record: dict[str, Any], _partition: int) -> list[Any]:
    """A leaf of a petition's public log; its bytes as hex (a String column holds
    text for every client)."""
    return [{**record, "leaf": record["leaf"].hex()}[column] for column in LOG_LEAF_COLUMNS]


def log_head_row(record: dict[str, Any], _partition: int) -> list[Any]:
    return [record[column] for column in LOG_HEAD_COLUMNS]
