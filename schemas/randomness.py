"""Random bytes from the operating system, asked for a page at a time.

Each sealed signature needs 64 random bytes: a data key and its id, and a nonce for
each of its two seals. Asked for one by one, that was four ``getrandom`` system calls
per signature, 4 % of the intake's main thread where a system call costs
microseconds (py-spy --native, 1,000 requests/s). ``random_bytes`` serves them from
a page of ``os.urandom`` output instead: the same source, one call per 64
signatures. No byte is served twice: a thread takes its bytes under a lock, and a
forked child drops the page it inherited, or parent and child would draw the same
keys and nonces. The price: the page keeps up to 4 KiB of recent and coming keys in
the process's memory, which already holds the master key that opens every one.
"""

from __future__ import annotations

import os
import threading

#: Bytes drawn from the operating system at once.
PAGE_BYTES = 4096


class _Pool:
    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        # A new lock too: another thread may have held the old one at the fork.
        self._lock = threading.Lock()
        self._page = b""
        self._used = 0

    def take(self, count: int) -> bytes:
        with self._lock:
            if self._used + count > len(self._page):
                self._page = os.urandom(max(PAGE_BYTES, count))
                self._used = 0
            start, self._used = self._used, self._used + count
            return self._page[start : self._used]


_POOL = _Pool()


def random_bytes(count: int) -> bytes:
    """``count`` bytes from ``os.urandom``, fit for keys and nonces, never served twice."""
    return _POOL.take(count)
