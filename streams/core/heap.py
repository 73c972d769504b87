"""The garbage collector's settings for a long-running server process.

CPython's collector runs a young collection every 700 net allocations of container
objects, and every tenth of those also walks the older objects; a request of the
intake allocates hundreds (futures, dicts, records), so under load the collector
ran every few requests and took 6 % of the intake's main thread (py-spy --native,
1,000 requests/s). Nearly all of it walked objects that live as long as the process:
modules, schemas, settings, compiled routes. ``settle_heap`` moves those out of the
collector's sight once start-up is done (``gc.freeze``, as Instagram's servers do)
and collects the young less often. Reference cycles are still collected.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

#: Net allocations of container objects between two young collections (CPython: 700).
YOUNG_THRESHOLD = 10_000


def settle_heap() -> None:
    """Call once, when start-up is over: what exists now is not looked at again."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    log.debug("%d start-up objects frozen out of the collector's sight", gc.get_freeze_count())


@contextmanager
def frozen_for_forks() -> Iterator[None]:
    """Around forking children that run Python (a fork-context process pool): what
    exists now is collected here or never.

    A forked child must not collect what it inherited: a librdkafka client left in
    a reference cycle (an admin client, say) would be destroyed there, joining
    threads that a fork does not copy, and the child would wait forever (seen: a
    recount's child hung in ``Admin_dealloc`` -> ``thrd_join``). So the garbage is
    collected in the process whose threads exist, and the rest is frozen while the
    children are forked and run."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
