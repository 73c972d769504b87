"""Deleting what a test or a benchmark run left on the broker."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka import KafkaException

from streams.core.errors import TopicError
from streams.core.kafka import admin_client
from streams.core.settings import Settings

log = logging.getLogger(__name__)


def delete_run_topics(settings: Settings, *, timeout: float = 10.0) -> list[str]:
    """Delete every topic named under the settings' prefix (Faust's internal ones and
    those of runs nested under it, such as a replay's, included) and return their
    names. A broker that kept each run's ~100 partitions ran out of file descriptors
    ("Too many open files") and shut down. Best effort: a broker that does not answer
    is logged, not raised, so a benchmark keeps its results. An empty prefix would
    name every topic of the cluster: refused."""
    prefix = settings.topic_prefix
    if not prefix:
        raise TopicError("refusing to delete topics without a topic prefix (that is all of them)")
    admin = admin_client(settings)
    try:
        names = [n for n in admin.list_topics(timeout=timeout).topics if n.startswith(prefix)]
    except KafkaException as exc:
        log.warning("could not list the topics to delete under %s: %s", prefix, exc)
        return []
    for name, future in (
        admin.delete_topics(names, operation_timeout=timeout).items() if names else []
    ):
        try:
            future.result()
        except KafkaException as exc:
            log.warning("could not delete topic %s: %s", name, exc.args[0].str())
    return names


@contextmanager
def run_topics_deleted(settings: Settings) -> Iterator[Settings]:
    """``settings``, whose run's topics are deleted when the block ends, however."""
    try:
        yield settings
    finally:
        delete_run_topics(settings)
