-- One row per accepted signature, collapsed by dedupe key: a signature delivered
-- twice (a replay after a crash, a re-run of the sink) is still one row.
CREATE TABLE IF NOT EXISTS {database}.signatures
(
    petition_id             LowCardinality(String),
    email_hash              FixedString(64),
    signature_id            String,
    full_name               String,
    consent_to_publish_name Bool,
    country                 LowCardinality(String),
    region                  LowCardinality(String),
    submitted_at            DateTime64(3, 'UTC'),
    accepted_at             DateTime64(3, 'UTC'),
    source_topic            LowCardinality(String),
    source_partition        UInt16,
    source_offset           UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY (petition_id, email_hash)
SETTINGS non_replicated_deduplication_window = 10000;

-- One row per rejected or duplicate event, collapsed by its position in the audit log.
CREATE TABLE IF NOT EXISTS {database}.rejections
(
    petition_id      LowCardinality(String),
    reason           LowCardinality(String),
    detail           String,
    signature_id     Nullable(String),
    received_at      DateTime64(3, 'UTC'),
    source_topic     LowCardinality(String),
    source_partition UInt16,
    source_offset    UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY (source_topic, source_partition, source_offset)
SETTINGS non_replicated_deduplication_window = 10000;

-- Counts are derived from the signatures themselves, never kept as deltas: whatever
-- was delivered how often, sum(signatures) is the number of distinct dedupe keys.
CREATE VIEW IF NOT EXISTS {database}.signature_counts AS
SELECT petition_id, region, country, count() AS signatures
FROM {database}.signatures FINAL
GROUP BY petition_id, region, country;

CREATE VIEW IF NOT EXISTS {database}.signatures_per_minute AS
SELECT petition_id, region, toStartOfMinute(submitted_at) AS minute, count() AS signatures
FROM {database}.signatures FINAL
GROUP BY petition_id, region, minute;
