"""The one logging setup; every module logs through ``logging.getLogger(__name__)``."""

from __future__ import annotations

import logging

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger once, for commands that do not run Faust's worker
    (which installs its own handlers)."""
    logging.basicConfig(level=level, format=_FORMAT)
    # librdkafka and aiokafka are chatty at INFO; their warnings still come through.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLevelName(level)))
