"""The ClickHouse sink: migrations, row mapping and idempotent batched writes,
through clickhouse-connect only (``chdb://`` embedded or ``http(s)://`` server)."""
