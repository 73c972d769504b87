"""The public log's keys (docs/transparency.md): production refuses the public
development ones where they matter, an API replica may hold the public key only, and
the writer refuses a signer key whose public key is not the one published."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import SecretStr, ValidationError

from sinks.transparency.writer import signer_of
from streams.core.errors import ConfigurationError
from streams.core.settings import Settings
from streams.rules.signed_note import Signer, Verifier
from streams.web.serve import published_verifier
from tests.unit.test_settings import own_secrets_but

OWN = Signer("sign.example", bytes(range(32)))


def own_signer_key() -> str:
    return OWN.encode()


def test_a_signer_key_reads_back_as_written() -> None:
    assert Signer.parse(OWN.encode()) == OWN
    assert OWN.encode().startswith("PRIVATE+KEY+sign.example+")


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERSIGN_ENV", "production")
    own_secrets_but(monkeypatch)
    monkeypatch.setenv("COUNTERSIGN_TRANSPARENCY_LOG", "true")
    monkeypatch.setenv("COUNTERSIGN_TRANSPARENCY_SALT_KEY", "s" * 40)


@pytest.mark.usefixtures("production")
def test_production_with_the_log_refuses_the_development_salt_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COUNTERSIGN_TRANSPARENCY_SALT_KEY")
    monkeypatch.setenv("COUNTERSIGN_TRANSPARENCY_SIGNER_KEY", own_signer_key())
    with pytest.raises(ValidationError, match="COUNTERSIGN_TRANSPARENCY_SALT_KEY must be set"):
        Settings()


@pytest.mark.usefixtures("production")
def test_production_with_the_log_refuses_the_development_signer_key() -> None:
    with pytest.raises(ValidationError, match="COUNTERSIGN_TRANSPARENCY_SIGNER_KEY must be set"):
        Settings()


@pytest.mark.usefixtures("production")
def test_an_api_replica_may_hold_the_public_key_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERSIGN_TRANSPARENCY_VERIFIER_KEY", OWN.verifier.encode())
    replica = Settings()
    assert published_verifier(replica) == OWN.verifier
    with pytest.raises(ConfigurationError, match="development key is public"):
        signer_of(replica)  # but it may not write the log


@pytest.mark.usefixtures("production")
def test_the_writer_refuses_a_signer_key_that_is_not_the_published_ones_pair(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COUNTERSIGN_TRANSPARENCY_SIGNER_KEY", own_signer_key())
    assert signer_of(Settings()).verifier == OWN.verifier
    other = Signer("sign.example", bytes(range(1, 33))).verifier.encode()
    monkeypatch.setenv("COUNTERSIGN_TRANSPARENCY_VERIFIER_KEY", other)
    with pytest.raises(ConfigurationError, match="is not the public key of"):
        signer_of(Settings())


def test_without_a_published_key_the_signers_is_published() -> None:
    settings = Settings(transparency_signer_key=SecretStr(own_signer_key()))
    assert published_verifier(settings) == OWN.verifier
    with pytest.raises(ConfigurationError, match="COUNTERSIGN_TRANSPARENCY_VERIFIER_KEY"):
        published_verifier(Settings(transparency_verifier_key="garbled"))


def test_new_log_key_prints_a_signer_key_and_its_public_key() -> None:
    made = subprocess.run(
        [sys.executable, "-m", "streams", "new-log-key", "sign.example.org"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "40"},  # a narrow terminal must not break a key
    )
    lines = dict(line.split("=", 1) for line in made.stdout.splitlines())
    signer = Signer.parse(lines["COUNTERSIGN_TRANSPARENCY_SIGNER_KEY"])
    assert signer.name == "sign.example.org"
    assert signer.verifier == Verifier.parse(lines["COUNTERSIGN_TRANSPARENCY_VERIFIER_KEY"])
    settings = Settings(
        transparency_signer_key=SecretStr(signer.encode()),
        transparency_verifier_key=signer.verifier.encode(),
    )
    assert signer_of(settings) == signer
