"""Avro schemas (every version kept under ``avro/``) and the single-object codec."""
