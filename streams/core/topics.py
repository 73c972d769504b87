"""Creating and describing the topics (``streams.core.topicspecs``) on a cluster."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from streams.core.errors import TopicError
from streams.core.kafka import admin_client, cluster_metadata
from streams.core.settings import Settings
from streams.core.topicspecs import COUNTS, VALID, TopicSpec, topics_in_use

log = logging.getLogger(__name__)


def create_topics(settings: Settings, *, timeout: float = 15.0) -> dict[str, str]:
    """Create every missing topic; leave existing ones alone.

    Returns ``{full topic name: "created" | "exists"}``. Running it twice changes
    nothing: the second run reports every topic as ``exists``.
    """
    admin = admin_client(settings)
    existing = set(cluster_metadata(admin, settings, timeout).topics)
    outcome: dict[str, str] = {}
    missing: list[NewTopic] = []
    for spec in topics_in_use(settings):
        name = settings.topic(spec.name)
        if name in existing:
            outcome[name] = "exists"
            continue
        missing.append(
            NewTopic(
                name,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
                config=spec.config(settings),
            )
        )
    if not missing:
        return outcome
    outcome |= _create(admin, missing, timeout)
    wait_until_visible(admin, list(outcome), timeout)
    return outcome


def _create(admin: AdminClient, topics: list[NewTopic], timeout: float) -> dict[str, str]:
    """``{name: "created" | "exists"}``: a concurrent create of the same topic is fine."""
    outcome = {}
    for name, future in admin.create_topics(topics, request_timeout=timeout).items():
        try:
            future.result()
        except KafkaException as exc:
            error = exc.args[0]
            if error.code() != error.TOPIC_ALREADY_EXISTS:
                raise TopicError(f"cannot create topic {name}: {error.str()}") from exc
            outcome[name] = "exists"
        else:
            log.info("created topic %s", name)
            outcome[name] = "created"
    return outcome


def create_internal_topics(
    settings: Settings,
    names: list[str],
    partitions: int,
    *,
    compacted: bool = False,
    timeout: float = 15.0,
) -> None:
    """Create a worker's own internal topics if they are missing (compacted for table
    changelogs, else bounded retention) and wait until every one of them is visible."""
    admin = admin_client(settings)
    existing = set(cluster_metadata(admin, settings, timeout).topics)
    missing = [
        NewTopic(
            name,
            num_partitions=partitions,
            replication_factor=settings.topic_replication_factor,
            config=(COUNTS if compacted else VALID).config(settings),
        )
        for name in names
        if name not in existing
    ]
    if missing:
        _create(admin, missing, timeout)
    wait_until_visible(admin, names, timeout)


def wait_until_visible(admin: AdminClient, names: list[str], timeout: float = 15.0) -> None:
    """A created topic reaches every broker's metadata a moment later: wait for it, so
    that a caller can subscribe or assign partitions right away."""
    deadline = time.monotonic() + timeout
    while True:
        topics = admin.list_topics(timeout=timeout).topics
        missing = [n for n in names if n not in topics or not topics[n].partitions]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise TopicError(f"created topics are not visible after {timeout:g} s: {missing}")
        time.sleep(0.1)


@dataclass(frozen=True)
class TopicDescription:
    spec: TopicSpec
    name: str
    partitions: int | None  # None: the topic does not exist
    replication_factor: int | None
    config: dict[str, str]


def describe_topics(settings: Settings, *, timeout: float = 15.0) -> list[TopicDescription]:
    """What the cluster says about each of our topics (missing ones included)."""
    admin = admin_client(settings)
    metadata = cluster_metadata(admin, settings, timeout).topics
    specs = topics_in_use(settings)
    names = [settings.topic(spec.name) for spec in specs]
    resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names if n in metadata]
    configs: dict[str, dict[str, str]] = {}
    for resource, future in (
        admin.describe_configs(resources, request_timeout=timeout).items() if resources else []
    ):
        try:
            entries = future.result()
        except KafkaException as exc:
            raise TopicError(f"cannot describe {resource.name}: {exc.args[0].str()}") from exc
        configs[resource.name] = {key: entry.value for key, entry in entries.items()}
    described = []
    for spec, name in zip(specs, names, strict=True):
        topic = metadata.get(name)
        partitions = None if topic is None else len(topic.partitions)
        replication = None
        if topic is not None and topic.partitions:
            replication = len(next(iter(topic.partitions.values())).replicas)
        described.append(
            TopicDescription(spec, name, partitions, replication, configs.get(name, {}))
        )
    return described
