"""The ``COUNTERSIGN_TRANSPARENCY_*`` settings: a petition's public log (issue 29,
docs/transparency.md), mixed into ``Settings``.

Off by default while the log is being built: with it on, the dedupe stage says on
``transparency.changes`` whether each signature counts, and the sink role appends
the leaves and signs the heads. Its two keys are public development values until set;
with the log on, production refuses them.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings

from streams.core.errors import ConfigurationError

DEVELOPMENT_TRANSPARENCY_SALT_KEY = "countersign-development-salt-key-do-not-use-in-production"
#: A note signer key (c2sp.org/signed-note: ``PRIVATE+KEY+name+hash+key``); its
#: verifier, for checking heads made with it, is
#: ``countersign.localhost+e888f3c1+AQ3+OZQwYNrXi/aUNXP9Sqvw/XCRwVzy5EH+Vcv75Q2w``.
DEVELOPMENT_TRANSPARENCY_SIGNER_KEY = (
    "PRIVATE+KEY+countersign.localhost+e888f3c1+Ad1E23RWwR/lQKV9z+QCLTX/9A0PF4zPcS/4rueX4yca"
)


class TransparencySettings(BaseSettings):
    """A petition's public log: whether it is kept, and its keys."""

    transparency_log: bool = False
    #: Keys each signature's salt (an HMAC of its id): without it nobody can test a
    #: guessed signature id and country against a leaf.
    transparency_salt_key: SecretStr = SecretStr(DEVELOPMENT_TRANSPARENCY_SALT_KEY)
    #: Signs the heads: an Ed25519 note signer key, ``PRIVATE+KEY+<name>+<hash>+<key>``.
    #: Only the sink's process (the log's writer) needs it.
    transparency_signer_key: SecretStr = SecretStr(DEVELOPMENT_TRANSPARENCY_SIGNER_KEY)
    #: What ``/api/keys`` publishes, ``<name>+<hash>+<key>``: set it on API replicas
    #: that are not given the signer key. Empty: derived from the signer key.
    transparency_verifier_key: str = ""
    #: A head's origin is ``<this>/<petition_id>``: name the site the log belongs to.
    transparency_origin: str = Field(default="countersign.localhost", pattern=r"^[^\s/]+$")
    #: Where signers check a receipt: the ``/receipt`` page of ``countersign serve``
    #: as the public reaches it (default: this machine's ``api_port``). The intake's
    #: thank-you page links there.
    transparency_receipt_url: str | None = None
    #: How often a petition whose log grew gets a new signed head.
    transparency_head_interval_seconds: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _transparency_keys_are_own_in_production(self) -> Self:
        production = getattr(self, "env", "development") == "production"
        if not (self.transparency_log and production):
            return self
        keys = [("SALT_KEY", self.transparency_salt_key, DEVELOPMENT_TRANSPARENCY_SALT_KEY)]
        if not self.transparency_verifier_key:  # an API replica may hold the public key only
            keys.append(
                ("SIGNER_KEY", self.transparency_signer_key, DEVELOPMENT_TRANSPARENCY_SIGNER_KEY)
            )
        for name, secret, development in keys:
            if secret.get_secret_value() == development:
                raise ConfigurationError(
                    f"COUNTERSIGN_TRANSPARENCY_{name} must be set to a key of your own in "
                    "production: the development value is public (docs/transparency.md)"
                )
        return self

    @property
    def transparency_signer_is_own(self) -> bool:
        """Whether the signer key is not the public development one."""
        return (
            self.transparency_signer_key.get_secret_value() != DEVELOPMENT_TRANSPARENCY_SIGNER_KEY
        )

    @property
    def transparency_secret_values(self) -> list[str]:
        return [
            self.transparency_salt_key.get_secret_value(),
            self.transparency_signer_key.get_secret_value(),
        ]
