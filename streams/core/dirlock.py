"""A directory that one process at a time may use: an exclusive ``flock`` on
``<directory>.lock``, held for the life of the process (the kernel drops it when the
process ends, ``kill -9`` included), with the holder's pid written in it so that the
next one can say who has it."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

_held: dict[str, IO[str]] = {}


def hold_for_life(directory: Path) -> str | None:
    """Take ``directory``'s lock for this process: None once it is ours (again, if it
    already was), else who holds it (``"pid 1234"``)."""
    key = str(directory.resolve())
    if key in _held:
        return None
    directory.parent.mkdir(parents=True, exist_ok=True)
    handle = open(f"{key}.lock", "a+")  # noqa: SIM115  (held for the process's life)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        return owner
    handle.truncate(0)
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    _held[key] = handle
    return None
