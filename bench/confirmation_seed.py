"""The seed campaign with confirmation on: 165,953 people sign syria-icc, every one gets
a confirmation mail (``countersign mailer`` -> Mailpit), 80 % follow their link (the
intake's ``/confirm``), and the confirmed count must equal the truth exactly.

Measured, in one run: how fast the mailer sends (mails per second into Mailpit), how
long until every mail is out, how long until the confirmed count is exact, the
mailer's memory, and how many mails went out twice (none expected without a crash).

With ``--kill``, the worker is killed (SIGKILL) and restarted once a third of the
mails are out, and the mailer once half of them are: the counts must still be exact,
and at most one batch of mails (``mailer_batch``) may go out twice.

    python -m bench.confirmation_seed --kill
    python -m bench.confirmation_seed --signatures 20000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.progress import MofNCompleteColumn, Progress

from bench.machine import RESULTS_DIR, describe, save_report
from bench.pipeline import fresh_settings
from streams.core.children import free_port
from streams.demo.campaign import SEED_PETITION, SEED_SIGNATURES
from streams.demo.mailbox import LinkFollower, follows, request_of
from streams.testing.cleanup import run_topics_deleted
from streams.testing.mail import MailpitServer
from streams.testing.processes import IntakeProcess, MailerProcess, WorkerProcess
from tests.intake_client import request

SHARE = 0.8


def counts(worker: WorkerProcess) -> dict[str, Any]:
    answer = request(
        f"http://127.0.0.1:{worker.web_port}/api/petitions/{SEED_PETITION}/counts", method="GET"
    )
    return dict(answer.body) if answer.status == 200 else {}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:  # noqa: PLR0915  (one measured run, step by step)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=SEED_SIGNATURES)
    parser.add_argument("--readers", type=int, default=8, help="signers reading at once")
    parser.add_argument(
        "--settle",
        type=float,
        default=300,
        help="give up once every mail is out and the confirmed count has not moved for "
        "this many seconds without being exact",
    )
    parser.add_argument(
        "--kill", action="store_true", help="SIGKILL the worker, then the mailer, mid-mailing"
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-confirm-") as tmp,
        run_topics_deleted(fresh_settings(Path(tmp), "confirm")) as settings,
    ):
        workdir = Path(tmp)
        with (
            MailpitServer(workdir / "mailpit").start() as mailpit,
            WorkerProcess(settings, workdir / "worker.log", free_port()) as worker,
            IntakeProcess(settings, workdir / "intake.log", free_port()) as intake,
        ):
            worker.start()
            worker.wait_until_serving()
            intake.extra_env["COUNTERSIGN_API_PORT"] = str(worker.web_port)
            intake.start()
            mailer = MailerProcess(settings, workdir / "mailer.log", mailpit.smtp_url, intake.url)
            truth_file = workdir / "truth.json"
            print(f"seed campaign: {args.signatures:,} people into Kafka…", flush=True)
            worker.run(
                ["simulate", "--profile", "seed-campaign", "--signatures",
                 str(args.signatures), "--confirmation", "email", "--truth", str(truth_file)],
                workdir / "simulate.log",
            )  # fmt: skip
            truth = json.loads(truth_file.read_text())["petitions"][SEED_PETITION]
            signers: dict[str, str] = truth["signers"]
            confirming = sum(1 for mailbox in signers if follows(mailbox, SHARE))
            while counts(worker).get("pending", 0) < len(signers):  # all accepted, pending
                assert worker.alive(), worker.log_tail()
                time.sleep(2)
            print("  all pending; mailing…", flush=True)

            follower = LinkFollower(mailpit, SHARE, workers=args.readers)
            stop = threading.Event()

            def read_mail() -> None:
                while not stop.is_set():
                    with contextlib.suppress(OSError):  # Mailpit busy: read it next round
                        follower.run_once()
                    stop.wait(1.0)

            peak_rss = 0.0
            with mailer, Progress(*Progress.get_default_columns(), MofNCompleteColumn()) as bars:
                mails_bar = bars.add_task("mails out", total=len(signers))
                confirmed_bar = bars.add_task("confirmed, as the API shows", total=confirming)
                started = time.perf_counter()
                mailer.start()
                reader = threading.Thread(target=read_mail, daemon=True)
                reader.start()
                mailed_at = confirmed_at = None
                last_shown, moved_at = None, time.monotonic()
                kills: list[str] = []
                while confirmed_at is None:
                    assert mailer.alive(), mailer.log_tail()
                    assert mailer.process is not None
                    peak_rss = max(peak_rss, rss_mib(mailer.process.pid))
                    out = mailpit.count()
                    if args.kill and not kills and out > len(signers) // 3:
                        worker.kill()  # the API and the sink keep running, as in production
                        worker.start()
                        kills.append(f"worker at {out:,} mails")
                        bars.console.print(f"  SIGKILL: {kills[-1]}")
                    if args.kill and len(kills) == 1 and out > len(signers) // 2:
                        mailer.kill()
                        mailer.start()
                        kills.append(f"mailer at {out:,} mails")
                        bars.console.print(f"  SIGKILL: {kills[-1]}")
                    if mailed_at is None and out >= len(signers):
                        mailed_at = time.perf_counter() - started
                        bars.console.print(f"  {len(signers):,} mails out in {mailed_at:.1f} s")
                    shown = counts(worker)
                    bars.update(mails_bar, completed=out)
                    bars.update(confirmed_bar, completed=shown.get("total", 0))
                    if shown.get("total") != last_shown:  # signers are still reading
                        last_shown, moved_at = shown.get("total"), time.monotonic()
                    if shown.get("total") == confirming and mailed_at is not None:
                        confirmed_at = time.perf_counter() - started
                    elif mailed_at is not None and time.monotonic() - moved_at > args.settle:
                        bars.console.print(
                            f"  not exact: the count stood still for {args.settle:.0f} s"
                        )
                        break
                    time.sleep(1)
                stop.set()
                reader.join(60)
                time.sleep(5)  # anything counted twice would show now
                shown = counts(worker)
                mails = mailpit.all_summaries()
    copies = sum(n - 1 for n in Counter(request_of(m["MessageID"]) for m in mails).values())
    expected_by_country = dict(
        Counter(country for mailbox, country in signers.items() if follows(mailbox, SHARE))
    )
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "signatures": len(signers),
        "share_following_links": SHARE,
        "link_readers": args.readers,
        "mails": len(mails),
        "kills": kills,
        "mailer_connections": settings.mailer_connections,
        "mailer_batch": settings.mailer_batch,
        "mails_sent_twice": copies,
        "seconds_until_every_mail_out": round(mailed_at or 0, 1),
        "mails_per_second": round(len(signers) / (mailed_at or 1), 1),
        "seconds_until_confirmed_count_exact": None
        if confirmed_at is None
        else round(confirmed_at, 1),
        "links_followed": follower.followed,
        "expected_confirmed": confirming,
        "shown_total": shown["total"],
        "shown_pending": shown["pending"],
        "exact": shown["total"] == confirming
        and shown["pending"] == len(signers) - confirming
        and shown["by_country"] == expected_by_country,
        # A killed mailer sends its unfinished batch again; nothing else may go twice.
        "copies_within_one_batch": copies <= settings.mailer_batch * len(kills[1:]),
        "mailer_peak_rss_mib": round(peak_rss, 1),
        "bench_process_max_rss_mib": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        ),
    }
    save_report(report, RESULTS_DIR / "confirmation_seed.json")


if __name__ == "__main__":
    main()
