"""``countersign worker``: Faust's own worker command over our app.

The only entry point that loads Faust; the CLI imports this module inside the
command, so every other command starts without it.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from streams.core.dirlock import hold_for_life
from streams.core.errors import StateDirectoryInUse
from streams.core.logs import install_redaction
from streams.core.settings import Settings
from streams.worker import build_worker
from streams.worker.engine import check_versions, use_event_loop


def hold_state_directory(settings: Settings) -> None:
    """A worker's RocksDB tables are its own: a second worker on the same directory
    would wait on their locks through every rebalance and die of it (the chaos test
    found that). Refused at start instead, saying why."""
    state = settings.data_dir / "faust"
    owner = hold_for_life(state)
    if owner is not None:
        raise StateDirectoryInUse(
            f"the worker state in {state} is in use by {owner}, another worker: give each "
            "worker on this machine a COUNTERSIGN_DATA_DIR of its own"
        )


def run_worker(settings: Settings, args: list[str]) -> NoReturn:
    """Run Faust's ``worker`` command with ``args`` (Faust's own options)."""
    install_redaction(settings.secret_values)  # before Faust sets up its handlers
    check_versions()  # before anything leans on the engine's internals
    hold_state_directory(settings)
    if not {"--with-web", "--without-web"} & set(args):
        # Faust's `worker` turns its own web server on by default; ours serves the port.
        args = ["--without-web", *args]
    if settings.event_loop == "uvloop":
        use_event_loop("uvloop")  # before the loop exists
    sys.argv = [sys.argv[0], "worker", *args]
    build_worker(settings).main()
