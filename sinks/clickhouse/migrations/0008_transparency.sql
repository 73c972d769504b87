-- The petitions' public logs (issue 29, docs/transparency.md): every leaf in its
-- petition's order, and every head the log's writer signed. What /log/... serves.

-- A leaf's bytes as hex (68 characters: version, kind, commitment). Read again after
-- a crash, a leaf is the same row again (same petition and index).
CREATE TABLE IF NOT EXISTS {database}.log_leaves
(
    petition_id LowCardinality(String),
    leaf_index  UInt64,
    leaf        String,
    changes     UInt32,
    appended_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (petition_id, leaf_index)
SETTINGS non_replicated_deduplication_window = 10000;

-- Every signed head (a writer that starts again signs the same size again, later).
CREATE TABLE IF NOT EXISTS {database}.log_heads
(
    petition_id LowCardinality(String),
    tree_size   UInt64,
    signatures  UInt64,
    note        String,
    signed_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (petition_id, tree_size, signed_at)
SETTINGS non_replicated_deduplication_window = 10000;
