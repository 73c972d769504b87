"""What the public log costs (docs/transparency.md), measured in one run:

    .venv/bin/python -m bench.transparency [--events 30000] [--audit-leaves 165953]

1. the pipeline end to end (bench.pipeline's step 2: from the first produced event to
   exact counts in the API) with the log off and on, twice each (off, on, on, off),
   and with it on, whether every petition's log added up to its count under a signed
   head by then. The two sides are compared (rate, and CPU per event of the worker and
   of serve, which runs the writer) only when every run was exact, logs included;
2. the public audit of a log of ``--audit-leaves`` signatures (the seed campaign's
   165,953 by default): the writer appending them and signing a head, and the
   audit (``streams.rules.transparency.audit``: every leaf parsed, the root
   recomputed, the head checked), as ``countersign audit-log`` runs it after the
   download.
Results go to bench/results/transparency.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.machine import RESULTS_DIR, describe, save_report
from bench.pipeline import end_to_end, fresh_settings
from streams.core.settings import Settings
from streams.rules.log_writer import PetitionLog
from streams.rules.signed_note import Checkpoint, Signer, open_note
from streams.rules.transparency import audit, signature_commitment
from streams.testing.cleanup import delete_run_topics
from streams.testing.dataset import dataset_with_truth
from streams.testing.public_logs import read_public_logs, totals_per_petition
from streams.testing.reference import Truth


def logs_complete(settings: Settings, truth: Truth) -> bool:
    """Whether every petition's log adds up to its count, under a signed head of its
    whole size."""
    verifier = Signer.parse(settings.transparency_signer_key.get_secret_value()).verifier
    leaves, heads = read_public_logs(settings, verifier)
    counts = {p: audit(log, []).count for p, log in leaves.items()}
    whole = all(
        max((h.size for h in heads.get(p, [])), default=0) == len(log) for p, log in leaves.items()
    )
    return whole and counts == totals_per_petition(truth.counts)


def pipeline(events_count: int, workdir: Path) -> dict[str, Any]:
    """Off, on, on, off (ABBA: a drift over the run, such as the first run's cold
    broker, weighs on both sides alike); the mean of each side."""
    runs: dict[str, list[dict[str, Any]]] = {"log_off": [], "log_on": []}
    for n, on in enumerate((False, True, True, False)):
        label = "log_on" if on else "log_off"
        settings = fresh_settings(workdir, f"{label}{n}").model_copy(
            update={"transparency_log": on, "transparency_head_interval_seconds": 1.0}
        )
        events, petitions, truth = dataset_with_truth(7, events_count, settings)
        log = workdir / f"{label}{n}.log"
        run = end_to_end(settings, events, petitions, truth, log, keep_topics=True)
        if on:
            # What the writer committed by the time the counts were exact and the
            # processes stopped (serve stops the writer after its round).
            run["logs_exact"] = logs_complete(settings, truth)
        delete_run_topics(settings)
        runs[label].append(run)
        print(f"{label}: {run}", flush=True)
    report: dict[str, Any] = dict(runs)
    exact = all(r["counts_exact"] for rs in runs.values() for r in rs) and all(
        r["logs_exact"] for r in runs["log_on"]
    )
    if exact:
        for measure in ("events_per_s", "worker_cpu_us_per_event", "serve_cpu_us_per_event"):
            off, on = (sum(r[measure] for r in runs[k]) / 2 for k in ("log_off", "log_on"))
            report[f"{measure}_on_over_off"] = round(on / off, 2)
    return report


def audit_cost(leaves_count: int) -> dict[str, Any]:
    key = b"bench-salt-key-0123456789abcdef0"
    signer = Signer("bench.countersign", bytes(range(32)))
    log = PetitionLog("seed")
    started = time.perf_counter()
    leaves = []
    for n in range(leaves_count):
        data = log.decide(signature_commitment(key, f"sig-{n}", "FR"), True, 0)
        assert data is not None
        log.append(data, 0)
        leaves.append(data)
    note = log.sign("bench.countersign", signer)
    appended = time.perf_counter() - started
    started = time.perf_counter()
    head = Checkpoint.parse(open_note(note, signer.verifier))
    report = audit(leaves, [head])
    audited = time.perf_counter() - started
    return {
        "leaves": leaves_count,
        "writer_append_and_sign_seconds": round(appended, 2),
        "audit_seconds": round(audited, 2),
        "audit_holds": report.problems == [] and report.count == leaves_count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--audit-leaves", type=int, default=165_953)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-transparency-") as workdir:
        report = {
            "machine": describe(),
            "events": args.events,
            "pipeline": pipeline(args.events, Path(workdir)),
            "audit": audit_cost(args.audit_leaves),
        }
    save_report(report, RESULTS_DIR / "transparency.json")


if __name__ == "__main__":
    main()
