"""The Helm chart (deploy/helm/countersign): `helm lint`, `helm template`, and what it
renders checked offline against Kubernetes' schemas (kubernetes-validate --strict) and
against the code it deploys (the topics' contract, the settings every process reads).
Helm itself is built from its Go module by `make helm` (`make test` does it)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from streams.core.settings import Settings
from streams.core.topicspecs import ALL_TOPICS
from tests.conftest import REPO

HELM = REPO / ".cache" / "bin" / "helm"
CHART = REPO / "deploy" / "helm" / "countersign"
SECRETS = {
    "secrets.emailHashKey": "e" * 43,
    "secrets.signingKey": "s" * 43,
    "secrets.opsToken": "o" * 43,
    "secrets.masterKey": "m" * 43,
    "secrets.smtpUrl": "smtps://mailer:mail-password@smtp.example.org:465",
    "secrets.clickhouseSinkPassword": "sink-password",
    "secrets.clickhouseApiPassword": "api-password",
}


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    if not HELM.exists():
        pytest.fail("Helm is not built: `make helm` builds it from its Go module")
    return subprocess.run(
        [str(HELM), *args], capture_output=True, text=True, timeout=120, check=check
    )


def render(**values: object) -> str:
    sets = [f"{key}={value}" for key, value in {**SECRETS, **values}.items()]
    return helm("template", "demo", str(CHART), *(f"--set={s}" for s in sets)).stdout


def objects(manifest: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(manifest) if doc]


def named(manifest: str, kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects(manifest) if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_helm_lint_passes() -> None:
    answer = helm("lint", str(CHART), *(f"--set={k}={v}" for k, v in SECRETS.items()))
    assert "0 chart(s) failed" in answer.stdout


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"clickhouse.operator.enabled": "true", "kafka.strimzi.enabled": "false"},
        {"kafka.securityProtocol": "PLAINTEXT", "kafka.tls.caSecret": ""},
        {"intake.autoscaling.enabled": "false", "api.autoscaling.enabled": "false"},
    ],
    ids=["defaults", "clickhouse-operator", "plaintext-kafka", "no-autoscaling"],
)
def test_what_it_renders_passes_kubernetes_validate_strict(
    values: dict[str, str], tmp_path: Path
) -> None:
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(render(**values))
    run = validate(manifest)
    assert run.returncode == 0, run.stdout + run.stderr
    # Only the operators' own kinds lack a schema here (KafkaTopic, ClickHouseInstallation).
    unknown = set(re.findall(r"Couldn't find schema for kind (\w+)", run.stdout + run.stderr))
    assert unknown <= {"KafkaTopic", "ClickHouseInstallation"}


def validate(manifest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / ".venv" / "bin" / "kubernetes-validate"), "--strict", "--quiet", str(manifest)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_validation_catches_a_misspelt_field(tmp_path: Path) -> None:
    """A control for the test above: strict validation is not blind to a typo."""
    docs = objects(render())
    for doc in docs:
        if doc["kind"] == "Deployment":
            doc["spec"]["replicaz"] = 2
    manifest = tmp_path / "misspelt.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    run = validate(manifest)
    assert run.returncode != 0
    assert "replicaz" in run.stdout + run.stderr


def test_it_refuses_to_render_without_the_secrets() -> None:
    answer = helm("template", "demo", str(CHART), check=False)
    assert answer.returncode != 0
    assert "secrets.emailHashKey" in answer.stderr


def test_every_topic_of_the_contract_is_a_kafka_topic_with_its_retention() -> None:
    manifest = render(**{"config.topicPrefix": "eu."})
    topics = {
        o["spec"]["topicName"]: o["spec"] for o in objects(manifest) if o["kind"] == "KafkaTopic"
    }
    production = Settings(topic_replication_factor=3)
    assert topics == {
        f"eu.{spec.name}": {
            "topicName": f"eu.{spec.name}",
            "partitions": 6,
            "replicas": 3,
            "config": spec.config(production),
        }
        for spec in ALL_TOPICS
    }


def test_the_charts_topic_file_is_what_the_code_writes() -> None:
    """files/topics.json is `countersign topics manifest` for replication 3: regenerate
    it when a topic changes (the command is in the file's template)."""
    production = Settings(topic_replication_factor=3)
    expected = {"topics": [{"name": s.name, "config": s.config(production)} for s in ALL_TOPICS]}
    assert json.loads((CHART / "files" / "topics.json").read_text()) == expected


def test_the_worker_is_a_stateful_set_with_a_volume_readiness_and_a_budget() -> None:
    manifest = render()
    worker = named(manifest, "StatefulSet", "demo-countersign-worker")
    container = worker["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][0] == "worker"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
    assert worker["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    assert container["resources"]["requests"]
    budget = named(manifest, "PodDisruptionBudget", "demo-countersign-worker")
    assert budget["spec"]["selector"] == worker["spec"]["selector"]


def test_one_sink_and_autoscaled_intakes_and_api_replicas() -> None:
    manifest = render()
    sink = named(manifest, "Deployment", "demo-countersign-sink")
    assert sink["spec"]["replicas"] == 1
    assert sink["spec"]["template"]["spec"]["containers"][0]["args"] == ["sink"]
    for role in ("intake", "api"):
        scaler = named(manifest, "HorizontalPodAutoscaler", f"demo-countersign-{role}")
        assert scaler["spec"]["scaleTargetRef"]["name"] == f"demo-countersign-{role}"
        deployment = named(manifest, "Deployment", f"demo-countersign-{role}")
        assert deployment["spec"]["template"]["spec"]["containers"][0]["args"] == [role]
        probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
        assert probe["httpGet"]["path"] == "/healthz"
    job = named(manifest, "Job", "demo-countersign-migrate-1")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]


def settings_of(manifest: str, kind: str, name: str, files: dict[str, str]) -> Settings:
    """The Settings a container of the chart would build: its ConfigMap, its secrets
    and its expanded $(VARIABLES), the files it reads (mounted Secrets) laid out here."""
    config = named(manifest, "ConfigMap", "demo-countersign-config")["data"]
    secret = named(manifest, "Secret", "demo-countersign-secrets")["stringData"]
    container = named(manifest, kind, name)["spec"]["template"]["spec"]["containers"][0]
    env = dict(config)
    for variable in container["env"]:
        if "valueFrom" in variable:
            env[variable["name"]] = secret[variable["valueFrom"]["secretKeyRef"]["key"]]
        else:
            env[variable["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m[1]], variable["value"])
    for key, path in files.items():  # where the pod would see a mounted file
        env[key] = path
    env.pop("KAFKA_BOOTSTRAP_SERVERS")
    return Settings(
        kafka_bootstrap_servers=config["KAFKA_BOOTSTRAP_SERVERS"],
        **{k.removeprefix("COUNTERSIGN_").lower(): v for k, v in env.items()},
    )


def test_each_process_gets_settings_the_code_accepts_in_production(tmp_path: Path) -> None:
    ca, password = tmp_path / "ca.crt", tmp_path / "password"
    ca.write_text("")
    password.write_text("kafka-password\n")
    files = {
        "COUNTERSIGN_KAFKA_SSL_CA_FILE": str(ca),
        "COUNTERSIGN_KAFKA_SASL_PASSWORD_FILE": str(password),
    }
    manifest = render()
    sink = settings_of(manifest, "Deployment", "demo-countersign-sink", files)
    assert sink.env == "production"
    assert sink.kafka_security_protocol == "SASL_SSL"
    assert sink.kafka_sasl_secret == "kafka-password"
    assert sink.clickhouse_dsn == (
        "https://countersign_sink:sink-password@clickhouse-countersign:8443"
    )
    api = settings_of(manifest, "Deployment", "demo-countersign-api", files)
    assert api.clickhouse_dsn is not None
    assert api.clickhouse_dsn.startswith("https://countersign_api:api-password@")


def test_a_client_certificate_is_mounted_and_named_for_mutual_tls(tmp_path: Path) -> None:
    manifest = render(
        **{"kafka.securityProtocol": "SSL", "kafka.tls.clientSecret": "countersign-user"}
    )
    worker = named(manifest, "StatefulSet", "demo-countersign-worker")["spec"]["template"]["spec"]
    (volume,) = [v for v in worker["volumes"] if v["name"] == "kafka-client"]
    assert volume["secret"]["secretName"] == "countersign-user"
    assert [i["key"] for i in volume["secret"]["items"]] == ["user.crt", "user.key"]
    mounts = {m["name"]: m["mountPath"] for m in worker["containers"][0]["volumeMounts"]}
    assert mounts["kafka-client"] == "/etc/countersign/kafka-client"
    files = {}
    for name, key in (("ca.crt", "CA"), ("tls.crt", "CERT"), ("tls.key", "KEY")):
        (tmp_path / name).write_text("")
        files[f"COUNTERSIGN_KAFKA_SSL_{key}_FILE"] = str(tmp_path / name)
    config = named(manifest, "ConfigMap", "demo-countersign-config")["data"]
    assert config["COUNTERSIGN_KAFKA_SSL_CERT_FILE"] == "/etc/countersign/kafka-client/tls.crt"
    assert config["COUNTERSIGN_KAFKA_SSL_KEY_FILE"] == "/etc/countersign/kafka-client/tls.key"
    intake = settings_of(manifest, "Deployment", "demo-countersign-intake", files)
    assert intake.kafka_security_protocol == "SSL"
    assert intake.kafka_ssl_key_file == tmp_path / "tls.key"


def test_the_code_refuses_the_chart_with_a_short_secret(tmp_path: Path) -> None:
    """The check above can fail: a secret the code refuses is refused through it."""
    manifest = render(
        **{
            "secrets.opsToken": "short",
            "kafka.securityProtocol": "PLAINTEXT",
            "kafka.tls.caSecret": "",
        }
    )
    with pytest.raises(ValidationError, match="COUNTERSIGN_OPS_TOKEN"):
        settings_of(manifest, "Deployment", "demo-countersign-intake", {})
