"""Drivers that tests and benchmarks share (neither imports the other): real worker,
serve and intake processes and what they wrote (``processes``), datasets from the
product's own simulator (``dataset``) and an independent reference implementation of
the rules that computes what the counts must be (``reference``, which shares no code
with the pipeline: an import-linter contract keeps it so)."""
