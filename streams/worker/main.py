"""``countersign worker``: Faust's own worker command over our app.

The only entry point that loads Faust; the CLI imports this module inside the
command, so every other command starts without it.
"""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

from streams.core import kafka
from streams.core.dirlock import hold_for_life
from streams.core.errors import KafkaUnavailable, StateDirectoryInUse, StateFromAnotherCluster
from streams.core.logs import install_redaction
from streams.core.settings import Settings
from streams.worker import build_worker
from streams.worker.engine import check_versions, use_event_loop

log = logging.getLogger(__name__)

#: The file in the state directory that names the Kafka cluster its tables belong to
#: (``deploy/run.sh`` reads it too).
CLUSTER_MARKER = "kafka-cluster-id"


def hold_state_directory(settings: Settings) -> None:
    """A worker's RocksDB tables are its own: a second worker on the same directory
    would wait on their locks through every rebalance and die of it (the chaos test
    found that). Refused at start instead, saying why."""
    state = settings.data_dir / "faust"
    owner = hold_for_life(state)
    if owner is not None:
        raise StateDirectoryInUse(
            f"the worker state in {state} is in use by {owner}, another worker: give each "
            "worker on this machine a COUNTERSIGN_DATA_DIR of its own"
        )


def check_state_cluster(settings: Settings, timeout: float = 30.0) -> None:
    """Refuse a state directory built against another Kafka cluster.

    Seen with ``make run`` after ``.data/kafka`` was deleted and ``.data/faust`` kept:
    Faust's recovery found the tables' persisted changelog offsets past the new,
    empty changelogs and crashed with ``ConsistencyError``, minutes of shutdown lines
    after the worker had looked healthy. Wiping the state by ourselves would be wrong
    where only a changelog was lost (its winners exist nowhere else), so the worker
    says what happened and who may delete what. A state without a marker (new, or
    older than the marker, or one whose marker a crash left empty) is taken as this
    cluster's."""
    state = settings.data_dir / "faust"
    try:
        metadata = kafka.cluster_metadata(kafka.admin_client(settings), settings, timeout)
    except KafkaUnavailable as exc:  # Faust waits for Kafka by itself
        log.warning("%s: the state's Kafka cluster is not checked", exc)
        return
    cluster = str(metadata.cluster_id)
    marker = state / CLUSTER_MARKER
    kept = (marker.read_text().strip() if marker.exists() else "") or cluster
    holds_tables = state.exists() and any(
        not p.name.startswith(CLUSTER_MARKER) for p in state.iterdir()
    )
    if kept != cluster and holds_tables:
        raise StateFromAnotherCluster(
            f"the worker state in {state} belongs to Kafka cluster {kept}, but Kafka is "
            f"now cluster {cluster}: its tables would restore from changelogs that do "
            f"not hold them. If the old cluster's data is gone on purpose, delete {state} "
            "(and the ClickHouse data that went with it) and start again; `make run` "
            "does that by itself when .data/kafka was reset"
        )
    state.mkdir(parents=True, exist_ok=True)
    written = marker.with_name(f"{CLUSTER_MARKER}.new")
    written.write_text(f"{cluster}\n")
    written.replace(marker)  # whole or not at all


def run_worker(settings: Settings, args: list[str]) -> NoReturn:
    """Run Faust's ``worker`` command with ``args`` (Faust's own options)."""
    install_redaction(settings.secret_values)  # before Faust sets up its handlers
    check_versions()  # before anything leans on the engine's internals
    hold_state_directory(settings)
    check_state_cluster(settings)
    if not {"--with-web", "--without-web"} & set(args):
        # Faust's `worker` turns its own web server on by default; ours serves the port.
        args = ["--without-web", *args]
    if settings.event_loop == "uvloop":
        use_event_loop("uvloop")  # before the loop exists
    sys.argv = [sys.argv[0], "worker", *args]
    build_worker(settings).main()
