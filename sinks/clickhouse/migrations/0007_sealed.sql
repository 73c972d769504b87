-- A signature whose personal data was sealed (docs/privacy.md) keeps it sealed here:
-- full_name is empty, `personal` holds the sealed PersonalData and `data_key_id` the
-- key it opens with (keys.signers). Erasing the key makes the row's name unreadable;
-- the row, and every count over it, stays.
ALTER TABLE {database}.signatures
    ADD COLUMN IF NOT EXISTS personal Nullable(String),
    ADD COLUMN IF NOT EXISTS data_key_id String DEFAULT '';
