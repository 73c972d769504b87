"""The Faust application: one per process, built from settings (no import-time globals).

The app id carries the topic prefix, so a test run (or a second pipeline on the same
cluster) gets its own consumer group and its own Faust-internal topics.
"""

from __future__ import annotations

from typing import Any

import faust

from streams.settings import Settings


class CountersignApp(faust.App):
    """A Faust app that carries the settings it was built from."""

    def __init__(self, settings: Settings, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.countersign_settings = settings


def create_app(settings: Settings) -> CountersignApp:
    app = CountersignApp(
        settings,
        f"{settings.topic_prefix}{settings.app_id}",
        broker=f"kafka://{settings.kafka_bootstrap_servers.replace(',', ';kafka://')}",
        datadir=str(settings.data_dir / "faust"),
        web_port=settings.worker_port,
        web_host="127.0.0.1",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        autodiscover=False,
    )
    return app
