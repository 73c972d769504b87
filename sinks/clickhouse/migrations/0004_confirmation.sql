-- Confirmed signatures (issue 13). A petition may ask its signers to confirm by
-- email: an accepted signature is then pending until its confirmation arrives on
-- signatures.confirmations, and only counted signatures make the totals.

ALTER TABLE {database}.signatures
    ADD COLUMN IF NOT EXISTS confirmation_required Bool DEFAULT false;

-- One row per confirmed signer, collapsed by dedupe key (a link followed twice is
-- one confirmation).
CREATE TABLE IF NOT EXISTS {database}.confirmations
(
    petition_id  LowCardinality(String),
    email_hash   FixedString(64),
    signature_id String,
    confirmed_at DateTime64(3, 'UTC'),
    source       LowCardinality(String)
)
ENGINE = ReplacingMergeTree
ORDER BY (petition_id, email_hash)
SETTINGS non_replicated_deduplication_window = 10000;

-- The aggregate's totals now carry pending signatures and a version: a number may
-- fall (pending ones get confirmed), so the row with the largest version is current,
-- not the largest number. The table is made again with that version (an engine's
-- version column cannot be altered) and the rows written before are kept with
-- version 0, under which the largest number still wins (argMax by (version, number)).
-- (A run cut short after the exchange left the old table under the new name: gone.)
DROP TABLE IF EXISTS {database}.regional_counts_v3;

CREATE TABLE IF NOT EXISTS {database}.regional_counts_v3
(
    petition_id LowCardinality(String),
    region      LowCardinality(String),
    country     LowCardinality(String),
    signatures  UInt64,
    pending     UInt64,
    version     UInt64,
    updated_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (petition_id, country)
SETTINGS non_replicated_deduplication_window = 10000;

INSERT INTO {database}.regional_counts_v3
SELECT petition_id, region, country, max(signatures), 0, 0, max(updated_at)
FROM {database}.regional_counts
GROUP BY petition_id, region, country;

EXCHANGE TABLES {database}.regional_counts_v3 AND {database}.regional_counts;

DROP TABLE {database}.regional_counts_v3;

-- Every signature with whether it counts: it needed no confirmation, or it was
-- confirmed. The one definition of "counted" that the cross-check, the rate chart and
-- the delivery export read.
CREATE OR REPLACE VIEW {database}.signature_status AS
SELECT *,
       NOT confirmation_required
       OR (petition_id, email_hash) IN (
           SELECT petition_id, email_hash FROM {database}.confirmations
       ) AS counted
FROM {database}.signatures FINAL;

-- ClickHouse's own count (the cross-check) counts what the totals count; pending apart.
CREATE OR REPLACE VIEW {database}.signature_counts AS
SELECT petition_id, region, country,
       countIf(counted) AS signatures, countIf(NOT counted) AS pending
FROM {database}.signature_status
GROUP BY petition_id, region, country;

CREATE OR REPLACE VIEW {database}.signatures_per_minute AS
SELECT petition_id, region, toStartOfMinute(submitted_at) AS minute, count() AS signatures
FROM {database}.signature_status
WHERE counted
GROUP BY petition_id, region, minute;
