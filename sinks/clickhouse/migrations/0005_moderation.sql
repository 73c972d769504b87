-- Ops can see and undo fraud (issue 13): what each signature tells about where it came
-- from, the partition its signer lives on, and the moderations (compensating events).

ALTER TABLE {database}.signatures
    ADD COLUMN IF NOT EXISTS email_domain LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS network Nullable(String),
    ADD COLUMN IF NOT EXISTS user_agent Nullable(String),
    ADD COLUMN IF NOT EXISTS home_partition Int16 DEFAULT -1;

-- One row per moderation event, in the order ops ran them; a signer's latest action
-- decides (argMax by time).
CREATE TABLE IF NOT EXISTS {database}.moderations
(
    petition_id  LowCardinality(String),
    email_hash   FixedString(64),
    signature_id String,
    action       LowCardinality(String),
    batch_id     String,
    reason       String,
    actor        String,
    at           DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (petition_id, email_hash, at, batch_id, action)
SETTINGS non_replicated_deduplication_window = 10000;

-- Signers whose latest moderation took them out of the count.
CREATE OR REPLACE VIEW {database}.invalidated AS
SELECT petition_id, email_hash
FROM {database}.moderations FINAL
GROUP BY petition_id, email_hash
HAVING argMax(action, at) = 'invalidate';

-- "Counted" now also means: not invalidated.
CREATE OR REPLACE VIEW {database}.signature_status AS
SELECT *,
       (NOT confirmation_required
        OR (petition_id, email_hash) IN (
            SELECT petition_id, email_hash FROM {database}.confirmations
        ))
       AND (petition_id, email_hash) NOT IN (
            SELECT petition_id, email_hash FROM {database}.invalidated
       ) AS counted,
       (petition_id, email_hash) IN (
            SELECT petition_id, email_hash FROM {database}.invalidated
       ) AS is_invalidated
FROM {database}.signatures FINAL;

CREATE OR REPLACE VIEW {database}.signature_counts AS
SELECT petition_id, region, country,
       countIf(counted) AS signatures, countIf(NOT counted AND NOT is_invalidated) AS pending
FROM {database}.signature_status
GROUP BY petition_id, region, country;
