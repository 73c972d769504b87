"""The worker's HTTP side: JSON API, server-sent events, health, metrics, dashboard."""
