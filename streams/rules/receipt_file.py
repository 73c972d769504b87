"""A receipt as the JSON file a signer keeps (format 1): bytes as base64.

The intake hands a signer the first half when Kafka has their signature (``claim``):
the petition, the signature id, the country and the salt, which are enough to find
their leaf. The proof and the signed head come from the log once a head covers it
(``countersign verify-receipt --api``, the ``/receipt`` page); a receipt with them is
checked offline (``loads``, ``check_receipt``).
"""

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


def claim(petition_id: str, signature_id: str, country: str, salt: bytes) -> dict[str, Any]:
    """A receipt's first half, as the intake's 202 answer carries it."""
    return {
        "receipt": FORMAT,
        "petition_id": petition_id,
        "signature_id": signature_id,
        "country": country,
        "salt": base64.b64encode(salt).decode(),
    }


def is_claim(text: str) -> bool:
    """Whether ``text`` holds only a receipt's first half (no proof, no head yet)."""
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and "head" not in data and "leaf_index" not in data


def _receipt_object(text: str) -> dict[str, Any]:
    """The JSON object of a receipt (or its first half) of this format."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise NoteError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("receipt") != FORMAT:
        raise NoteError(f"not a receipt of format {FORMAT}")
    return data


def loads_claim(text: str) -> tuple[str, str, str, bytes]:
    """(petition, signature id, country, salt) of a receipt or its first half."""
    data = _receipt_object(text)
    try:
        salt = base64.b64decode(data["salt"], validate=True)
        return str(data["petition_id"]), str(data["signature_id"]), str(data["country"]), salt
    except (KeyError, TypeError, binascii.Error) as exc:
        raise NoteError(f"not a readable receipt: {exc!r}") from None


def loads(text: str) -> Receipt:
    """The receipt in ``text``, or ``NoteError`` naming what is missing or wrong."""
    data = _receipt_object(text)
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
