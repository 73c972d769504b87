"""A receipt as the JSON file a signer keeps (format 1): bytes as base64."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from streams.rules.signed_note import NoteError
from streams.rules.transparency import Receipt

FORMAT = 1


def dumps(receipt: Receipt) -> str:
    return json.dumps(
        {
            "receipt": FORMAT,
            "petition_id": receipt.petition_id,
            "signature_id": receipt.signature_id,
            "country": receipt.country,
            "salt": base64.b64encode(receipt.salt).decode(),
            "leaf_index": receipt.leaf_index,
            "proof": [base64.b64encode(node).decode() for node in receipt.proof],
            "head": receipt.head,
        },
        indent=2,
    )


def loads(text: str) -> Receipt:
    """The receipt in ``text``, or ``NoteError`` naming what is missing or wrong."""
    try:
        data: dict[str, Any] = json.loads(text)
    except ValueError as exc:
        raise NoteError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("receipt") != FORMAT:
        raise NoteError(f"not a receipt of format {FORMAT}")
    try:
        return Receipt(
            petition_id=str(data["petition_id"]),
            signature_id=str(data["signature_id"]),
            country=str(data["country"]),
            salt=base64.b64decode(data["salt"], validate=True),
            leaf_index=int(data["leaf_index"]),
            proof=tuple(base64.b64decode(node, validate=True) for node in data["proof"]),
            head=str(data["head"]),
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise NoteError(f"not a readable receipt: {exc!r}") from None
