"""Each topic's retention follows docs/architecture.md's table."""

from __future__ import annotations

from streams.core.settings import Settings
from streams.core.topicspecs import ALL_TOPICS, topics_in_use

EXPECTED = {
    # name: (cleanup.policy, retention.ms)  -- "-" where compaction makes it moot
    "petitions": ("compact", "-"),
    "signatures.submitted": ("delete", "-1"),
    "signatures.valid": ("delete", str(7 * 24 * 3600 * 1000)),
    "signatures.accepted": ("delete", "-1"),
    "signatures.rejected": ("delete", "-1"),
    "signatures.duplicates": ("delete", "-1"),
    "counts.regional": ("compact", "-"),
    "signatures.confirmations": ("delete", "-1"),
    "signatures.moderations": ("delete", "-1"),
    "mail.outbox": ("delete", str(7 * 24 * 3600 * 1000)),
    "mail.failed": ("delete", "-1"),
    "mail.history": ("compact", "-"),
    "keys.signers": ("compact", "-"),
    "privacy.erasures": ("delete", "-1"),
    "transparency.changes": ("delete", "-1"),
    "transparency.leaves": ("delete", "-1"),
    "transparency.heads": ("compact", "-"),
}


def test_the_topics_are_exactly_those_of_the_architecture() -> None:
    assert [spec.name for spec in ALL_TOPICS] == list(EXPECTED)


def test_cleanup_policy_and_retention_per_topic() -> None:
    settings = Settings(topic_replication_factor=3)
    for spec in ALL_TOPICS:
        config = spec.config(settings)
        assert (config["cleanup.policy"], config.get("retention.ms", "-")) == EXPECTED[spec.name]


def test_forever_means_no_size_limit_either() -> None:
    for spec in ALL_TOPICS:
        if EXPECTED[spec.name] == ("delete", "-1"):
            assert spec.config(Settings())["retention.bytes"] == "-1"


def test_min_insync_replicas_is_two_with_three_replicas_and_one_alone() -> None:
    assert ALL_TOPICS[0].config(Settings(topic_replication_factor=3))["min.insync.replicas"] == "2"
    assert ALL_TOPICS[0].config(Settings(topic_replication_factor=1))["min.insync.replicas"] == "1"


def test_the_audit_log_takes_oversized_events_so_the_validator_can_reject_them() -> None:
    submitted = next(spec for spec in ALL_TOPICS if spec.name == "signatures.submitted")
    assert int(submitted.config(Settings())["max.message.bytes"]) > 1024 * 1024


def test_the_signers_keys_roll_and_compact_within_the_erasure_window() -> None:
    keys = next(spec for spec in ALL_TOPICS if spec.name == "keys.signers")
    config = keys.config(Settings(erasure_window_seconds=600))
    assert (config["segment.ms"], config["max.compaction.lag.ms"]) == ("600000", "600000")
    assert config["file.delete.delay.ms"] == "60000"


def test_a_short_erasure_window_deletes_replaced_files_as_soon() -> None:
    keys = next(spec for spec in ALL_TOPICS if spec.name == "keys.signers")
    assert keys.config(Settings(erasure_window_seconds=2))["file.delete.delay.ms"] == "2000"


def test_no_other_topic_is_rolled_for_erasure() -> None:
    erasable = [s.name for s in ALL_TOPICS if "max.compaction.lag.ms" in s.config(Settings())]
    assert erasable == ["keys.signers"]


def test_the_public_logs_topics_are_made_only_with_the_log_on() -> None:
    log_topics = {"transparency.changes", "transparency.leaves", "transparency.heads"}
    off = {spec.name for spec in topics_in_use(Settings())}
    on = {spec.name for spec in topics_in_use(Settings(transparency_log=True))}
    assert on == {spec.name for spec in ALL_TOPICS}
    assert off == on - log_topics
