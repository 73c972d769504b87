-- A record of signatures.submitted may carry several submissions (a SignatureBatch):
-- an event's place in the audit log is (topic, partition, offset, index). Rejections
-- collapse by that place, so the index joins their sorting key (a column can join it
-- only in the ALTER that adds it; no DEFAULT expression on a sorting-key column).
ALTER TABLE {database}.rejections
    ADD COLUMN IF NOT EXISTS source_index UInt32 AFTER source_offset,
    MODIFY ORDER BY (source_topic, source_partition, source_offset, source_index);

ALTER TABLE {database}.signatures
    ADD COLUMN IF NOT EXISTS source_index UInt32 AFTER source_offset;
