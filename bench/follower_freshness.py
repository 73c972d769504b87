"""How long a wait for a fresh copy of the catalogue takes (``Following.ensure_fresh``).

    .venv/bin/python -m bench.follower_freshness [--waits 40]

The worker's validate waits for it, blocking its event loop, when a submission names
a petition it does not know (the petition may have been published a moment before).
Each wait asks for a copy that has everything logged by now, on a broker with nothing
new to read: what remains is the follower's own latency. Needs a broker (make
kafka-up) and the petitions topic (countersign topics create, or any make run).
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.machine import describe
from streams.catalogue.follower import PetitionLookup
from streams.core.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waits", type=int, default=40)
    args = parser.parse_args()
    lookup = PetitionLookup(Settings())
    lookup.start()
    waits = []
    try:
        for _ in range(args.waits):
            started = time.monotonic()
            fresh = lookup.ensure_fresh(time.time(), timeout=5)
            waits.append(time.monotonic() - started)
            if not fresh:
                raise SystemExit("the copy did not become fresh within 5 s")
            time.sleep(0.05)  # a moment apart, as validate asks (once a second at most)
    finally:
        lookup.stop()
    print(describe())
    median_ms, max_ms = statistics.median(waits) * 1000, max(waits) * 1000
    print(f"{args.waits} waits for a fresh catalogue:", end=" ")
    print(f"median {median_ms:.0f} ms, max {max_ms:.0f} ms")


if __name__ == "__main__":
    main()
