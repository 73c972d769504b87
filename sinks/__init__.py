"""Sinks that carry counts out of Kafka (ClickHouse, through clickhouse-connect)."""
