-- Reconcile at a consistent cut (issue 26): every total carries the log positions it
-- covers, per home partition (streams/rules/cut.py), as compact JSON. An audit
-- recounts the log up to exactly those positions, so it agrees with a live count.
-- Rows written before have '' (no cut known): reconcile compares them with the
-- whole log, as before.
ALTER TABLE {database}.regional_counts
    ADD COLUMN IF NOT EXISTS cut String DEFAULT '';

-- A duplicate is decided at its signer's home partition: the partition of
-- signatures.duplicates it was read from (-1 for every other rejection, and for rows
-- written before), so an audit can tell which home's cut covers it.
ALTER TABLE {database}.rejections
    ADD COLUMN IF NOT EXISTS home_partition Int16 DEFAULT -1;
