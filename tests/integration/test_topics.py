"""`countersign topics create|describe` against the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from streams.core.errors import TopicError
from streams.core.settings import Settings
from streams.core.topics import create_topics, describe_topics
from streams.core.topicspecs import topics_in_use
from streams.testing.cleanup import delete_run_topics


def test_create_makes_every_topic_with_its_partitions_and_policy(settings: Settings) -> None:
    outcome = create_topics(settings)
    assert set(outcome.values()) == {"created"}
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    metadata = admin.list_topics(timeout=10).topics
    for spec in topics_in_use(settings):
        topic = metadata[settings.topic(spec.name)]
        assert len(topic.partitions) == 6
    resource = ConfigResource(ConfigResource.Type.TOPIC, settings.topic("counts.regional"))
    config = admin.describe_configs([resource])[resource].result()
    assert config["cleanup.policy"].value == "compact"


def test_create_twice_changes_nothing(settings: Settings) -> None:
    create_topics(settings)
    before = describe_topics(settings)
    second = create_topics(settings)
    assert set(second.values()) == {"exists"}
    assert describe_topics(settings) == before


def topics_once_gone(settings: Settings, names: set[str], timeout: float = 30) -> set[str]:
    """The cluster's topics once none of ``names`` is listed any more (a deletion shows
    in the metadata a moment after the controller accepted it), or at the deadline."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    deadline = time.monotonic() + timeout
    while True:
        listed = set(admin.list_topics(timeout=10).topics)
        if not names & listed or time.monotonic() > deadline:
            return listed
        time.sleep(0.2)


def test_deleting_a_runs_topics_leaves_every_other_topic(settings: Settings) -> None:
    nested = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}n."})
    create_topics(settings)
    create_topics(nested)
    outer = {settings.topic(spec.name) for spec in topics_in_use(settings)}
    inner = {nested.topic(spec.name) for spec in topics_in_use(nested)}
    assert set(delete_run_topics(nested)) == inner
    listed = topics_once_gone(settings, inner)
    assert not inner & listed
    assert outer <= listed


def test_deleting_a_runs_topics_takes_the_runs_nested_under_it(settings: Settings) -> None:
    nested = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}replay.x."})
    create_topics(settings)
    create_topics(nested)
    every = {s.topic(spec.name) for s in (settings, nested) for spec in topics_in_use(s)}
    assert set(delete_run_topics(settings)) == every
    assert not every & topics_once_gone(settings, every)


def test_deleting_topics_without_a_prefix_is_refused(settings: Settings) -> None:
    with pytest.raises(TopicError, match="without a topic prefix"):
        delete_run_topics(settings.model_copy(update={"topic_prefix": ""}))


def test_describe_reports_missing_topics(settings: Settings) -> None:
    described = describe_topics(settings)
    assert [topic.partitions for topic in described] == [None] * len(topics_in_use(settings))


def test_partitions_come_from_settings(settings: Settings) -> None:
    create_topics(settings.model_copy(update={"topic_partitions": 3}))
    assert {topic.partitions for topic in describe_topics(settings)} == {3}


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "COUNTERSIGN_TOPIC_PREFIX": settings.topic_prefix,
    }
    return subprocess.run(
        [sys.executable, "-m", "streams", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_topics_create_then_describe(settings: Settings) -> None:
    created = run_cli(settings, "topics", "create")
    assert created.returncode == 0, created.stderr
    assert created.stdout.count("created") == len(topics_in_use(settings))
    described = run_cli(settings, "topics", "describe")
    assert described.returncode == 0, described.stderr
    assert "forever" in described.stdout and "compacted" in described.stdout


def test_cli_help_lists_every_command_with_a_summary(settings: Settings) -> None:
    result = run_cli(settings, "--help")
    assert result.returncode == 0
    assert "topics  " in result.stdout and "worker  " in result.stdout


def test_cli_says_clearly_when_no_broker_answers(settings: Settings) -> None:
    unreachable = settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1"})
    result = run_cli(unreachable, "topics", "create")
    assert result.returncode == 2
    assert "no Kafka broker answered at 127.0.0.1:1" in result.stderr
