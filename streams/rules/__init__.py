"""Countersign's rules as pure functions: no I/O, no clock, no Kafka.

Each module owns one concern (email, names, countries and regions, petitions and
time, the whole verdict). The validate agent and the intake call the same functions,
and tests exercise them in microseconds.
"""
