"""The seed-sized delivery export, end to end: the seed campaign through the pipeline,
then ``countersign export --format pdf`` of every consenting signer, then
``verify-export`` of the file, each timed, with the PDF's pages and size.

About 70 % of the campaign's signers agree to publication, so 237,100 signers give
about 165,953 names (the size of the list that inspired us).

    python -m bench.export_seed                     # 237,100 signers
    python -m bench.export_seed --signatures 20000  # a quick run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from pypdf import PdfReader

from bench.machine import RESULTS_DIR, describe, save_report
from bench.pipeline import fresh_settings
from streams.core.settings import Settings
from streams.demo.campaign import SEED_PETITION
from streams.testing.cleanup import run_topics_deleted
from streams.testing.processes import WorkerProcess, free_port, run_command


def counted(port: int) -> int:
    url = f"http://127.0.0.1:{port}/api/petitions/{SEED_PETITION}/counts"
    with urllib.request.urlopen(url, timeout=30) as answer:
        return int(json.load(answer)["total"])


def timed(settings: Settings, args: list[str], log: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = run_command(settings, args, log, env=env, expect=None)
    return time.perf_counter() - started, done.stdout + f"\n(exit {done.returncode})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=237_100)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-export-") as tmp,
        run_topics_deleted(fresh_settings(Path(tmp), "export")) as settings,
    ):
        workdir = Path(tmp)
        port = free_port()
        env = {"COUNTERSIGN_API_PORT": str(port)}
        with WorkerProcess(settings, workdir / "worker.log", port) as worker:
            worker.start()
            worker.wait_until_serving()
            print(f"seed campaign: {args.signatures:,} signers into Kafka…", flush=True)
            run_command(
                settings,
                ["simulate", "--profile", "seed-campaign", "--signatures", str(args.signatures)],
                workdir / "simulate.log",
                env=env,
            )
            started = time.perf_counter()
            while counted(port) < args.signatures:
                assert worker.alive(), worker.log_tail()
                time.sleep(5)
            pipeline_seconds = time.perf_counter() - started
            print(f"  counted in {pipeline_seconds:.0f} s after the last send", flush=True)
            pdf = workdir / "seed.pdf"
            export_seconds, export_out = timed(
                settings,
                ["export", SEED_PETITION, "--output", str(pdf)],
                workdir / "export.log",
                env,
            )
            print(export_out, flush=True)
            verify_seconds, verify_out = timed(
                settings, ["verify-export", str(pdf)], workdir / "verify.log", env
            )
            print(verify_out, flush=True)
            pages = len(PdfReader(pdf).pages)
            names = int(export_out.split(": ", 1)[1].split(" names")[0].replace(",", ""))
            size = pdf.stat().st_size
            # The first list page as a picture (docs/export-page.png is one of these).
            subprocess.run(
                ["pdftoppm", "-png", "-r", "110", "-f", "2", "-l", "2", "-singlefile",
                 str(pdf), str(RESULTS_DIR / "export-page")],
                check=True,
            )  # fmt: skip
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "signers": args.signatures,
        "names_exported": names,
        "pdf_pages": pages,
        "pdf_megabytes": round(size / 1e6, 1),
        "export_seconds": round(export_seconds, 1),
        "verify_seconds": round(verify_seconds, 1),
        "pipeline_seconds_after_last_send": round(pipeline_seconds),
    }
    save_report(report, RESULTS_DIR / "export_seed.json")


if __name__ == "__main__":
    main()
