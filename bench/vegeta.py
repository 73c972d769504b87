"""An open-loop HTTP load from vegeta (Go), for the benchmarks that offer a rate.

A Python load client on this 2-core machine takes about as much CPU per request as the
intake it loads: at 2,000/s it could not keep the schedule (897/s sent, 2026-12-07).
vegeta sends the same bodies with a fraction of that, so the intake, the pipeline and
the broker get the cores. Built by ``make bench`` from its Go module
(``deploy/go-tool-build.sh``) into ``.cache/bin/vegeta``.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VEGETA = REPO / ".cache" / "bin" / "vegeta"
#: Requests open at once, at most (the Python client's cap, bench/visibility_latency.py).
MAX_OPEN = 1024


@dataclass
class Attack:
    """What vegeta did: each request's due time (``time.monotonic`` seconds: the
    first one's send time plus its place in the schedule, so a request that waited
    for a free worker is measured from when it was due), its status, and how late it
    was sent."""

    due: list[float] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    late: list[float] = field(default_factory=list)

    @property
    def counted(self) -> Counter[str]:
        return Counter(self.statuses)

    def accepted_sent(self) -> list[float]:
        """When each request that got 202 was due, in order."""
        return sorted(
            at for at, status in zip(self.due, self.statuses, strict=True) if status == "202"
        )


def require_vegeta() -> Path:
    if not VEGETA.exists():
        raise SystemExit(
            f"bench: {VEGETA} is not built: `make .cache/bin/vegeta` (or `make bench`)"
        )
    return VEGETA


def attack(
    url: str, bodies: list[tuple[bytes, str]], rate: float, seconds: float, workdir: Path
) -> Attack:
    """POST ``bodies`` (JSON, client IP for X-Forwarded-For) to ``url`` at ``rate`` per
    second for ``seconds``, one body per request in order (vegeta's targets, read
    round robin: give at least rate x seconds of them). At most ``MAX_OPEN`` requests
    are open at once, as a real client pool would hold: the rest wait, and count late;
    what is still unsent when ``seconds`` are up is never sent (the caller counts it)."""
    vegeta = require_vegeta()
    per_second = round(rate)
    if per_second < 1:
        raise ValueError(f"a rate of {rate}/s: vegeta takes whole requests per second, 1 or more")
    targets = workdir / "targets.jsonl"
    with targets.open("w") as out:
        for body, client_ip in bodies:
            target = {
                "method": "POST",
                "url": url,
                "body": base64.b64encode(body).decode(),
                "header": {
                    "Content-Type": ["application/json"],
                    "Accept": ["application/json"],
                    "X-Forwarded-For": [client_ip],
                },
            }
            out.write(json.dumps(target) + "\n")
    results = workdir / "results.bin"
    command = [
        str(vegeta),
        "attack",
        "-format=json",
        f"-targets={targets}",
        f"-rate={per_second}/1s",
        f"-duration={seconds}s",
        "-timeout=60s",
        f"-max-workers={MAX_OPEN}",
        f"-output={results}",
    ]
    subprocess.run(command, check=True)
    encoded = subprocess.run(
        [str(vegeta), "encode", "-to=csv", str(results)], check=True, capture_output=True
    ).stdout.decode()
    wall_minus_monotonic = time.time() - time.monotonic()
    done = Attack()
    # Columns: timestamp (Unix ns), code, latency (ns), bytes out, bytes in, error,
    # body, attack, seq, ...
    rows = sorted(csv.reader(io.StringIO(encoded)), key=lambda row: int(row[8]))
    start = int(rows[0][0]) / 1e9 if rows else 0.0
    for row in rows:
        due = start + int(row[8]) / per_second
        done.due.append(due - wall_minus_monotonic)
        done.late.append(max(0.0, int(row[0]) / 1e9 - due))
        done.statuses.append(row[1] if row[1] != "0" else failure(row[5]))
    return done


def failure(error: str) -> str:
    """A request that got no answer, said without its ports (``read tcp
    127.0.0.1:36493->...: connection reset by peer`` is ``connection reset by peer``)."""
    return error.rsplit(": ", 1)[-1] or "no answer"
