"""A worker's state directory remembers the Kafka cluster its tables belong to, and a
worker refuses a state built against another cluster (Faust would crash in recovery
with ConsistencyError, after the worker had looked healthy)."""

from pathlib import Path

import pytest

from streams.core import kafka
from streams.core.errors import StateFromAnotherCluster
from streams.core.settings import Settings
from streams.worker.main import CLUSTER_MARKER, check_state_cluster


def this_cluster(settings: Settings) -> str:
    return str(kafka.admin_client(settings).list_topics(timeout=10).cluster_id)


def state_of(settings: Settings) -> Path:
    return settings.data_dir / "faust"


def a_table_in(state: Path) -> None:
    """What Faust leaves in a state directory: a table's RocksDB files."""
    table = state / "countersign-data" / "v1" / "tables" / "dedupe-winners-v3-0.db"
    table.mkdir(parents=True)
    (table / "CURRENT").write_text("MANIFEST-000001\n")


def test_a_new_state_directory_is_marked_with_the_cluster_it_belongs_to(
    settings: Settings,
) -> None:
    check_state_cluster(settings)
    marker = state_of(settings) / CLUSTER_MARKER
    assert marker.read_text().strip() == this_cluster(settings)


def test_a_state_with_tables_from_another_cluster_is_refused_naming_its_directory(
    settings: Settings,
) -> None:
    state = state_of(settings)
    a_table_in(state)
    (state / CLUSTER_MARKER).write_text("AnotherClusterId000000\n")
    with pytest.raises(StateFromAnotherCluster) as refused:
        check_state_cluster(settings)
    assert str(state) in str(refused.value)
    assert "AnotherClusterId000000" in str(refused.value)
    assert (state / CLUSTER_MARKER).read_text().strip() == "AnotherClusterId000000"


def test_a_state_from_before_the_marker_is_taken_as_this_clusters(settings: Settings) -> None:
    state = state_of(settings)
    a_table_in(state)
    check_state_cluster(settings)
    assert (state / CLUSTER_MARKER).read_text().strip() == this_cluster(settings)


def test_a_marker_of_another_cluster_over_no_tables_is_replaced(settings: Settings) -> None:
    state = state_of(settings)
    state.mkdir(parents=True)
    (state / CLUSTER_MARKER).write_text("AnotherClusterId000000\n")
    check_state_cluster(settings)
    assert (state / CLUSTER_MARKER).read_text().strip() == this_cluster(settings)
