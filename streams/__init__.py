"""Countersign's stream application: settings, topics, the Faust app and its agents.

Importing this package is cheap on purpose (no Faust, no Kafka client): the codec and
the pure rule functions are used by tools that never start a worker.
"""
