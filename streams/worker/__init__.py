"""The Faust agents of the pipeline, one module each, thin over ``streams.rules``.

    signatures.submitted --validate--> signatures.rejected
                             | at home: dedupe stage --> signatures.accepted | .duplicates
                             | elsewhere: signatures.valid (home partition)
    signatures.valid     --dedupe----> dedupe stage --> signatures.accepted | .duplicates
                         (every 0.25 s) <app>-partial-counts (internal)
    partial-counts       --aggregate--> counts.regional

Every agent runs with concurrency 1, so a partition's events are processed in order
("first in stream order wins"; see docs/exactly-once.md).
"""

from __future__ import annotations

from streams.catalogue.follower import PetitionLookup
from streams.core.settings import Settings
from streams.worker import aggregate, dedupe, validate
from streams.worker.app import CountersignApp, create_app
from streams.worker.outputs import OutputProducer
from streams.worker.policy import halt_worker
from streams.worker.topology import topology


def build_worker(settings: Settings) -> CountersignApp:
    """The composition root of the worker: the app, its catalogue follower, its topics,
    tables and agents, each part handed to what uses it."""
    petitions = PetitionLookup(settings)
    app = create_app(settings, petitions)
    app.use_outputs(OutputProducer(settings, on_failure=halt_worker))
    topics = topology(app)
    stage = dedupe.register(app, topics)
    validate.register(app, topics, petitions, stage)
    aggregate.register(app, topics)
    return app
