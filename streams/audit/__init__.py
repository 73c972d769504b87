"""Audit tools: prove the counts from the audit log (``signatures.submitted``).

They read Kafka and ask ``countersign serve`` (the one process that opens ClickHouse)
through its token-protected ``/ops`` endpoints; they never write a live topic or table.
"""
