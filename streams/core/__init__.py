"""The core every process shares: settings, errors, Kafka clients, topics, the
catalogue and its follower, logging, signals and metrics. It imports nothing above
itself (``streams.rules`` and ``schemas`` are its siblings); see docs/architecture.md."""
