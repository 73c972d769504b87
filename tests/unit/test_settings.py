"""Settings come from COUNTERSIGN_* variables (plus KAFKA_BOOTSTRAP_SERVERS), frozen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from streams.catalogue.follower import PetitionLookup
from streams.core.children import environment
from streams.core.errors import ConfigurationError
from streams.core.settings import DEVELOPMENT_EMAIL_HASH_KEY, Settings
from streams.worker.app import create_app

#: Secrets of one's own: 32 bytes each, the least accepted.
OWN_HASH_KEY = "5f0c2a9e7b1d43e8a6c4f2b0d9e7a5c3"
OWN_SIGNING_KEY = "signing-key-of-our-own-32-bytes!"
OWN_OPS_TOKEN = "ops-token-of-our-own-of-32-bytes"
OWN_MASTER_KEY = "master-key-of-our-own-of-32-byte"
SECRETS = {
    "COUNTERSIGN_EMAIL_HASH_KEY": OWN_HASH_KEY,
    "COUNTERSIGN_SIGNING_KEY": OWN_SIGNING_KEY,
    "COUNTERSIGN_OPS_TOKEN": OWN_OPS_TOKEN,
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("COUNTERSIGN_") or name == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(name)


def test_defaults_run_on_one_machine() -> None:
    settings = Settings()
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.topic_prefix == ""
    assert settings.topic_partitions == 6
    assert settings.api_port == 6066
    assert settings.worker_port == 6067
    assert settings.intake_port == 8080
    assert settings.data_dir == Path(".data")


def test_prefixed_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERSIGN_TOPIC_PREFIX", "eu.")
    monkeypatch.setenv("COUNTERSIGN_TOPIC_PARTITIONS", "12")
    settings = Settings()
    assert settings.topic("signatures.submitted") == "eu.signatures.submitted"
    assert settings.topic_partitions == 12


def test_the_usual_kafka_variable_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "10.0.0.1:9092,10.0.0.2:9092")
    assert Settings().kafka_bootstrap_servers == "10.0.0.1:9092,10.0.0.2:9092"


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.topic_prefix = "other."  # type: ignore[misc]


def test_a_variant_is_a_copy() -> None:
    settings = Settings()
    variant = settings.model_copy(update={"topic_prefix": "x."})
    assert (settings.topic_prefix, variant.topic_prefix) == ("", "x.")


def test_the_hash_key_is_secret_in_repr() -> None:
    assert DEVELOPMENT_EMAIL_HASH_KEY not in repr(Settings())


def own_secrets_but(monkeypatch: pytest.MonkeyPatch, *unset: str) -> None:
    """Every secret set to one of our own, except those named (left at their default)."""
    for name, value in SECRETS.items():
        if name not in unset:
            monkeypatch.setenv(name, value)


@pytest.mark.parametrize("secret", list(SECRETS))
def test_production_refuses_each_development_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("COUNTERSIGN_ENV", "production")
    own_secrets_but(monkeypatch, secret)
    with pytest.raises(ValidationError, match=f"{secret} must be set") as refused:
        Settings()
    assert "secrets.token_urlsafe(32)" in str(refused.value)


@pytest.mark.parametrize("secret", list(SECRETS))
@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7", "::", "sign.example.org"])
def test_a_bind_beyond_loopback_refuses_each_development_secret_in_any_env(
    monkeypatch: pytest.MonkeyPatch, secret: str, host: str
) -> None:
    monkeypatch.setenv("COUNTERSIGN_BIND_HOST", host)
    own_secrets_but(monkeypatch, secret)
    with pytest.raises(ValidationError, match=f"{secret} must be set.*listens beyond"):
        Settings()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_runs_on_the_development_secrets(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.setenv("COUNTERSIGN_BIND_HOST", host)
    assert Settings().bind_host == host


@pytest.mark.parametrize("secret", list(SECRETS))
@pytest.mark.parametrize("env", ["development", "test", "production"])
def test_a_secret_under_32_bytes_is_refused_in_every_env(
    monkeypatch: pytest.MonkeyPatch, secret: str, env: str
) -> None:
    monkeypatch.setenv("COUNTERSIGN_ENV", env)
    own_secrets_but(monkeypatch)
    monkeypatch.setenv(secret, "a")
    with pytest.raises(ValidationError, match=f"{secret} has 1 bytes; at least 32"):
        Settings()


def test_a_previous_hash_key_under_32_bytes_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"PREVIOUS_KEYS \(key k0\) has 5 bytes"):
        Settings(email_hash_previous_keys="k0=short")


def test_production_runs_with_its_own_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERSIGN_ENV", "production")
    monkeypatch.setenv("COUNTERSIGN_BIND_HOST", "0.0.0.0")
    own_secrets_but(monkeypatch)
    settings = Settings()
    assert settings.email_hash_key.get_secret_value() == OWN_HASH_KEY
    assert settings.ops_token.get_secret_value() == OWN_OPS_TOKEN


def test_a_non_numeric_partition_count_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERSIGN_TOPIC_PARTITIONS", "many")
    with pytest.raises(ValidationError, match="topic_partitions"):
        Settings()


def test_a_topic_prefix_with_a_space_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERSIGN_TOPIC_PREFIX", "my prefix")
    with pytest.raises(ValidationError, match="topic_prefix"):
        Settings()


def test_every_consumer_group_lives_under_the_topic_prefix() -> None:
    settings = Settings(topic_prefix="run7.", app_id="countersign")
    assert settings.group_id() == "run7.countersign"
    assert settings.group_id("catalogue-reader") == "run7.countersign-catalogue-reader"


@pytest.mark.parametrize("limits", ["0/60", "5/0", "1/60,0/300", "5", "1/60/2", "a/60"])
def test_rate_limits_that_cannot_be_enforced_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, limits: str
) -> None:
    monkeypatch.setenv("COUNTERSIGN_INTAKE_RATE_LIMITS", limits)
    with pytest.raises(ValidationError, match="COUNTERSIGN_INTAKE_RATE_LIMITS") as refused:
        Settings()
    assert isinstance(refused.value.errors()[0]["ctx"]["error"], ConfigurationError)


def test_rate_limits_are_count_per_seconds_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERSIGN_INTAKE_RATE_LIMITS", " 2/30, 10/3600 ")
    assert Settings().rate_limits == [(2, 30.0), (10, 3600.0)]


@pytest.mark.parametrize("prefix", ["0", "129"])
def test_an_ipv6_prefix_outside_1_to_128_is_refused(
    monkeypatch: pytest.MonkeyPatch, prefix: str
) -> None:
    monkeypatch.setenv("COUNTERSIGN_INTAKE_IPV6_PREFIX", prefix)
    with pytest.raises(ValidationError, match="intake_ipv6_prefix"):
        Settings()


def test_ipv6_clients_are_limited_by_their_64_by_default() -> None:
    assert (Settings().intake_ipv6_prefix, Settings().intake_ipv4_prefix) == (64, 32)


def test_no_site_may_post_from_a_browser_unless_configured() -> None:
    assert Settings().cors_origins == []


def test_configured_sites_are_a_list_of_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "COUNTERSIGN_INTAKE_CORS_ORIGINS", "https://a.example, http://b.example:8080"
    )
    assert Settings().cors_origins == ["https://a.example", "http://b.example:8080"]


@pytest.mark.parametrize("origin", ["campaign.example", "https://campaign.example/sign", "ftp://x"])
def test_a_cors_origin_that_is_no_origin_is_refused(
    monkeypatch: pytest.MonkeyPatch, origin: str
) -> None:
    monkeypatch.setenv("COUNTERSIGN_INTAKE_CORS_ORIGINS", origin)
    with pytest.raises(ValidationError, match="COUNTERSIGN_INTAKE_CORS_ORIGINS"):
        Settings()


def test_an_empty_hash_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERSIGN_EMAIL_HASH_KEY", "")
    with pytest.raises(ValidationError, match="COUNTERSIGN_EMAIL_HASH_KEY has 0 bytes"):
        Settings()


def test_a_hash_key_of_31_bytes_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERSIGN_EMAIL_HASH_KEY", OWN_HASH_KEY[:31])
    with pytest.raises(ValidationError, match="has 31 bytes; at least 32 are needed"):
        Settings()


def test_the_hash_key_is_measured_in_bytes_not_characters() -> None:
    sixteen_characters = "é" * 16  # 32 bytes in UTF-8, the bytes HMAC is keyed with
    settings = Settings(env="test", email_hash_key=sixteen_characters)
    assert len(settings.email_hash_key.get_secret_value().encode()) == 32


def test_the_clickhouse_password_is_not_in_repr() -> None:
    settings = Settings(clickhouse_dsn="https://default:hunter2-s3cret@ch.example:8443/")
    assert "hunter2-s3cret" not in repr(settings)


def test_previous_email_hash_keys_read_as_ids_and_keys() -> None:
    first, second = "first-" + OWN_HASH_KEY, "second-" + OWN_HASH_KEY
    settings = Settings(email_hash_key_id="k3", email_hash_previous_keys=f"k1={first},k2={second}")
    assert settings.previous_hash_keys == [("k1", first.encode()), ("k2", second.encode())]


def test_a_previous_key_with_the_current_id_is_refused() -> None:
    with pytest.raises(ValidationError, match="an id of its own"):
        Settings(email_hash_key_id="k1", email_hash_previous_keys=f"k1={OWN_HASH_KEY}")


def test_a_garbled_list_of_previous_keys_is_refused() -> None:
    with pytest.raises(ValidationError, match="id=key,id=key"):
        Settings(email_hash_previous_keys="just-a-key")


def test_a_child_process_reads_the_settings_it_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    given = Settings(topic_prefix="child.", consumer_session_timeout_seconds=10)
    for name, value in environment(given).items():
        if name.startswith("COUNTERSIGN_") or name == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.setenv(name, value)
    read = Settings()
    assert read.topic_prefix == "child."
    assert read.consumer_session_timeout_seconds == 10


def test_the_worker_hands_its_session_timeout_to_faust() -> None:
    settings = Settings(consumer_session_timeout_seconds=12)
    app = create_app(settings, PetitionLookup(settings))
    assert app.conf.broker_session_timeout == 12


def test_a_session_timeout_below_the_brokers_least_is_refused() -> None:
    # Kafka refuses a member whose session is shorter than group.min.session.timeout.ms
    # (6 s by default): better refused at start than by every join.
    with pytest.raises(ValidationError):
        Settings(consumer_session_timeout_seconds=5)


def test_serve_bound_beyond_loopback_with_only_its_own_ops_token_refuses_to_start() -> None:
    # The issue's own try: a public bind that forgets the keys must not serve at all.
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("COUNTERSIGN_")},
        "COUNTERSIGN_BIND_HOST": "0.0.0.0",
        "COUNTERSIGN_OPS_TOKEN": OWN_OPS_TOKEN,
    }
    started = subprocess.run(
        [sys.executable, "-m", "streams", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 2
    assert "COUNTERSIGN_EMAIL_HASH_KEY must be set to a secret of your own" in started.stderr


def test_the_master_key_may_come_from_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    key_file.write_text(OWN_MASTER_KEY + "\n")
    assert Settings(master_key_file=key_file).master_secret == OWN_MASTER_KEY.encode()


def test_a_master_key_file_that_cannot_be_read_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="COUNTERSIGN_MASTER_KEY_FILE"):
        _ = Settings(master_key_file=tmp_path / "missing.key").master_secret


def test_a_short_master_key_in_a_file_is_refused_where_it_is_used(tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    key_file.write_text("short")
    with pytest.raises(ConfigurationError, match="COUNTERSIGN_MASTER_KEY has 5 bytes"):
        _ = Settings(master_key_file=key_file).master_secret


def test_a_binary_master_key_file_is_taken_as_bytes(tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    key_file.write_bytes(bytes(range(128, 168)))  # no UTF-8
    assert Settings(master_key_file=key_file).master_secret == bytes(range(128, 168))


def test_production_without_a_master_key_starts_but_refuses_to_use_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The worker counts without the master key: it need not have one of its own.
    monkeypatch.setenv("COUNTERSIGN_ENV", "production")
    own_secrets_but(monkeypatch)
    settings = Settings()
    with pytest.raises(ConfigurationError, match="COUNTERSIGN_MASTER_KEY"):
        _ = settings.master_secret


def test_production_with_a_master_key_of_its_own_uses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERSIGN_ENV", "production")
    own_secrets_but(monkeypatch)
    monkeypatch.setenv("COUNTERSIGN_MASTER_KEY", OWN_MASTER_KEY)
    assert Settings().master_secret == OWN_MASTER_KEY.encode()


def test_a_child_reads_the_master_key_from_the_same_file(tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    key_file.write_text(OWN_MASTER_KEY)
    spelled = environment(Settings(master_key_file=key_file))
    assert spelled["COUNTERSIGN_MASTER_KEY_FILE"] == str(key_file)
