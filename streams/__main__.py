"""``python -m streams`` is the ``countersign`` command."""

from streams.cli import main

main()
