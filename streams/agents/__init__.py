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

from dataclasses import dataclass

from streams.agents import aggregate, dedupe, validate
from streams.agents.topology import Topology, topology
from streams.app import CountersignApp
from streams.catalogue_follower import PetitionLookup


@dataclass(frozen=True)
class Pipeline:
    topology: Topology
    petitions: PetitionLookup


def register_agents(app: CountersignApp) -> Pipeline:
    """Declare every table and agent on ``app`` (once, before it starts)."""
    topics = topology(app)
    petitions = PetitionLookup(app.countersign_settings)
    app.petition_lookup = petitions
    stage = dedupe.register(app, topics)
    validate.register(app, topics, petitions, stage)
    aggregate.register(app, topics)
    return Pipeline(topics, petitions)
