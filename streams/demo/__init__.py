"""The demo and load generator: people, petitions and traffic shaped like the seed
campaign (``countersign simulate``, the benchmarks and the tests share it)."""
