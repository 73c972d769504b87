"""Unit tests are pure: no broker, no ClickHouse, microseconds each."""
