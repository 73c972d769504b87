-- A signature whose personal data was sealed (docs/privacy.md) keeps it sealed here:
-- full_name is empty, `personal` holds the sealed PersonalData and `data_key_id` the
-- key it opens with (keys.signers). Erasing the key makes the row's name unreadable;
-- the row, and every count over it, stays.
ALTER TABLE {database}.signatures
    ADD COLUMN IF NOT EXISTS personal Nullable(String),
    ADD COLUMN IF NOT EXISTS data_key_id String DEFAULT '';

-- The view's `*` was expanded when it was made: made again, it has the new columns.
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
