"""The sign form's token: proof that a form post comes from a form this intake
rendered, for this petition, recently.

Every render of the form carries a fresh token in a hidden field; a form-encoded
post must bring one back, valid and unexpired, or it is refused (403, and the form
again with a new token, so a signer who left the page open too long only clicks
once more). It is an ``itsdangerous`` token under the deployment's ``signing_key``
with a salt of its own (``streams.core.links`` signs confirmation links with
another), so neither passes for the other.

What it stops: a page elsewhere that posts a form to the intake blind, without
having fetched the form (the Origin check, ``crosssite``, stops the rest from
browsers that send Origin). What it cannot stop: it is bound to no browser (the
form is embeddable, and third-party cookies are blocked in frames), so a server
that fetches the form may reuse its token until it expires. JSON posts carry no
token: a browser cannot send JSON across sites without CORS allowing it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from streams.core.errors import CrossSiteRefused

#: The hidden field that carries it.
FORM_TOKEN = "form_token"
#: Changed if the token's content ever changes: old forms then ask to be sent again.
FORM_SALT = "countersign.sign-form.v1"


class _ClockedSigner(TimestampSigner):
    """itsdangerous's timestamp signer, reading the time from an injected clock."""

    def __init__(self, *args: Any, clock: Callable[[], float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock())


class FormTokens:
    """Issues and checks the tokens of ``max_age`` seconds; ``clock`` is for tests."""

    def __init__(self, secret: str, max_age: int, clock: Callable[[], float] = time.time) -> None:
        self.max_age = max_age
        self._serializer = URLSafeTimedSerializer(
            secret,
            salt=FORM_SALT,
            signer=_ClockedSigner,
            signer_kwargs={"clock": clock, "digest_method": hashlib.sha256},
        )

    def issue(self, petition_id: str) -> str:
        return str(self._serializer.dumps(petition_id))

    def check(self, token: object, petition_id: str) -> None:
        """Nothing if ``token`` is a live token of this petition's form; else
        ``CrossSiteRefused`` with what a signer should do."""
        if not isinstance(token, str) or not token:
            raise CrossSiteRefused(
                "this form was not sent from the petition's own page; please send it again"
            )
        try:
            signed_for = self._serializer.loads(token, max_age=self.max_age)
        except SignatureExpired:
            raise CrossSiteRefused(
                "this form was open too long; please check it and send it again"
            ) from None
        except BadData:
            raise CrossSiteRefused(
                "this form's token is not one of ours; please send the form again"
            ) from None
        if signed_for != petition_id:
            raise CrossSiteRefused(
                "this form was made for another petition; please send this one again"
            )
