-- The aggregate's exact totals, one row per (petition, country) as published on
-- counts.regional: what the API and dashboard read. A total never decreases, so the
-- total itself is the version: however often or late a record arrives, the largest
-- one wins (max(signatures) at query time, ReplacingMergeTree in the background).
CREATE TABLE IF NOT EXISTS {database}.regional_counts
(
    petition_id LowCardinality(String),
    region      LowCardinality(String),
    country     LowCardinality(String),
    signatures  UInt64,
    updated_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(signatures)
ORDER BY (petition_id, country)
SETTINGS non_replicated_deduplication_window = 10000;
