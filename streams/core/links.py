"""Signed, expiring confirmation links: the mailer writes them, the intake reads them.

A link names one signer of one petition (the dedupe key: petition and email hash),
the signature whose mail carried it, and the signer's home partition, where the
confirmation must be sent. It is an ``itsdangerous`` token under the deployment's
``signing_key`` with a salt of its own, so a token made for another purpose never
passes for a confirmation; it carries its time of signing, so it expires.
Nothing in it is secret (the hash is keyed), but nothing in it can be changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from streams.core.errors import LinkExpired, LinkInvalid
from streams.core.settings import Settings

#: Changed if the claim's shape ever changes: old links then read as invalid, kindly.
CONFIRM_SALT = "countersign.confirm.v1"


@dataclass(frozen=True)
class ConfirmationClaim:
    petition_id: str
    email_hash: str
    signature_id: str
    home_partition: int


#: The "remove my signature" link's: a confirmation token never passes for one.
WITHDRAW_SALT = "countersign.withdraw.v1"


def _serializer(settings: Settings, salt: str = CONFIRM_SALT) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key.get_secret_value(), salt=salt)


def confirmation_token(settings: Settings, claim: ConfirmationClaim) -> str:
    payload = [claim.petition_id, claim.email_hash, claim.signature_id, claim.home_partition]
    return str(_serializer(settings).dumps(payload))


def confirmation_url(settings: Settings, claim: ConfirmationClaim) -> str:
    return f"{settings.public_base_url}/confirm/{confirmation_token(settings, claim)}"


def read_confirmation(settings: Settings, token: str) -> tuple[ConfirmationClaim, datetime]:
    """The claim of a link and when it was signed; ``LinkExpired`` or ``LinkInvalid``."""
    max_age = round(settings.confirmation_link_hours * 3600)
    try:
        payload: Any
        payload, signed_at = _serializer(settings).loads(
            token, max_age=max_age, return_timestamp=True
        )
    except SignatureExpired as exc:
        raise LinkExpired("this confirmation link has expired") from exc
    except BadData as exc:
        raise LinkInvalid("this is not a confirmation link of ours") from exc
    return _claim(payload), signed_at.astimezone(UTC)


def _claim(payload: Any) -> ConfirmationClaim:
    try:
        petition_id, email_hash, signature_id, home = payload
        return ConfirmationClaim(str(petition_id), str(email_hash), str(signature_id), int(home))
    except (TypeError, ValueError) as exc:
        raise LinkInvalid("this link does not say which signature it is for") from exc


def withdrawal_url(settings: Settings, claim: ConfirmationClaim) -> str:
    """The "remove my signature" link of a signature (it does not expire: a signer
    may change their mind at any time)."""
    payload = [claim.petition_id, claim.email_hash, claim.signature_id, claim.home_partition]
    token = _serializer(settings, WITHDRAW_SALT).dumps(payload)
    return f"{settings.public_base_url}/withdraw/{token}"


def read_withdrawal(settings: Settings, token: str) -> ConfirmationClaim:
    """The signature a withdrawal link names; ``LinkInvalid`` for anything else."""
    try:
        payload: Any = _serializer(settings, WITHDRAW_SALT).loads(token)
    except BadData as exc:
        raise LinkInvalid("this is not a withdrawal link of ours") from exc
    return _claim(payload)
