"""The fraud commands: ``sources`` (where recent signatures came from), ``invalidate``
and ``reinstate`` (compensating events that take signatures out of the count and put
them back), ``moderations`` (the audit trail). All through ``countersign serve``'s
authenticated /ops routes, so scripts and the commands do the very same."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from streams.audit.serve_client import ServeClient
from streams.cli.audit import FORMAT
from streams.cli.tools import console, tool
from streams.core.errors import CountersignError
from streams.core.settings import Settings

PETITION = click.option("--petition", "petition_id", required=True, help="The petition.")


@click.command()
@PETITION
@click.option("--hours", type=float, default=1.0, show_default=True, help="The recent window.")
@click.option(
    "--baseline", type=float, default=24.0, show_default=True, help="Hours before it to compare."
)
@click.option("--top", type=int, default=10, show_default=True, help="Sources shown per kind.")
@FORMAT
@tool
def sources_command(  # noqa: PLR0917
    settings: Settings, petition_id: str, hours: float, baseline: float, top: int, output: str
) -> None:
    """Where a petition's recent signatures came from, against their usual mix.

    The top email domains, client networks (IPv4 /24, IPv6 /64) and user agents of
    the signatures accepted in the last --hours, each with its share of them and its
    share of the --baseline hours before. A source whose share jumped is worth a look
    (then `countersign invalidate`).

    \b
    countersign sources --petition syria-icc
    countersign sources --petition syria-icc --hours 6 --baseline 168 --format json
    """
    path = f"/petitions/{petition_id}/sources?hours={hours}&baseline={baseline}&top={top}"
    found: dict[str, list[dict[str, Any]]] = ServeClient(settings).get(path)
    if output == "json":
        console.print_json(json.dumps(found))
        return
    for kind, rows in found.items():
        recent_total = sum(r["recent"] for r in rows) or 1
        before_total = sum(r["before"] for r in rows) or 1
        table = Table(title=f"{petition_id}: {kind}, last {hours:g} h vs the {baseline:g} h before")
        for column in ("source", "last", "share", "before", "share before", "change"):
            table.add_column(column, justify="left" if column == "source" else "right")
        for row in rows:
            share, usual = row["recent"] / recent_total, row["before"] / before_total
            change = "new" if not row["before"] else f"{share / usual:.1f}x" if usual else "-"
            table.add_row(
                row["source"],
                f"{row['recent']:,}",
                f"{share:.0%}",
                f"{row['before']:,}",
                f"{usual:.0%}",
                change,
            )
        console.print(table)


@click.command()
@PETITION
@click.option("--domain", help="Every signature whose email is at this domain.")
@click.option("--ip-prefix", help="Every signature from this network (e.g. 203.0.113.0/24).")
@click.option(
    "--from-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Signature ids, one per line.",
)
@click.option("--reason", required=True, help="Why (kept with every event: the audit trail).")
@click.option("--actor", default=None, help="Who (default: your user name).")
@click.option("--dry-run", is_flag=True, help="Only say how many signatures it would take out.")
@tool
def invalidate_command(  # noqa: PLR0917
    settings: Settings,
    petition_id: str,
    domain: str | None,
    ip_prefix: str | None,
    from_file: Path | None,
    reason: str,
    actor: str | None,
    dry_run: bool,
) -> None:
    """Take signatures out of the count, by compensating events.

    Selects the accepted signatures of a petition by email domain, client network or
    a list of signature ids, and puts one `invalidate` event per signature on
    signatures.moderations (nothing in Kafka is rewritten). The counts drop by
    exactly that many; `countersign reinstate --batch ID` puts them back. Every event
    says who, when and why (`countersign moderations` lists them).

    \b
    countersign invalidate --petition syria-icc --domain spam.example --reason "bot wave"
    countersign invalidate --petition syria-icc --ip-prefix 203.0.113.0/24 --reason "..."
    countersign invalidate --petition syria-icc --from-file ids.txt --reason "..." --dry-run
    """
    selectors = [s for s in (domain, ip_prefix, from_file) if s is not None]
    if len(selectors) != 1:
        raise CountersignError("give exactly one of --domain, --ip-prefix, --from-file")
    body: dict[str, Any] = {"domain": domain, "ip_prefix": ip_prefix}
    if from_file is not None:
        ids = [line.strip() for line in from_file.read_text().splitlines() if line.strip()]
        body["signature_ids"] = ids
    client = ServeClient(settings)
    if dry_run:
        targets = client.post(f"/petitions/{petition_id}/targets", body)
        console.print(f"would invalidate {len(targets):,} signatures of {petition_id}")
        return
    body |= {"reason": reason, "actor": actor or getpass.getuser()}
    with console.status(f"invalidating signatures of {petition_id}…"):
        done = client.post(f"/petitions/{petition_id}/invalidations", body)
    if not done["signatures"]:
        console.print("no signature of that selection counts now: nothing to do")
        return
    sent, batch_id = done["signatures"], done["batch_id"]
    console.print(
        f"invalidated {sent:,} signatures of {petition_id} (batch [bold]{batch_id}[/]); "
        f"the counts drop by {sent:,} as the pipeline applies them. "
        f"Undo: countersign reinstate --batch {batch_id} --reason ..."
    )


@click.command()
@click.option("--batch", "batch_id", required=True, help="The batch `invalidate` printed.")
@click.option("--reason", required=True, help="Why (kept with every event).")
@click.option("--actor", default=None, help="Who (default: your user name).")
@tool
def reinstate_command(settings: Settings, batch_id: str, reason: str, actor: str | None) -> None:
    """Put back the signatures an `invalidate` batch took out of the count.

    \b
    countersign reinstate --batch mod-20261201T120000-1a2b3c4d --reason "false alarm"
    """
    body = {"reason": reason, "actor": actor or getpass.getuser()}
    with console.status(f"reinstating batch {batch_id}…"):
        done = ServeClient(settings).post(f"/moderations/{batch_id}/reinstate", body)
    console.print(
        f"reinstated {done['signatures']:,} signatures of {done['petition_id']} (batch {batch_id})"
    )


@click.command()
@PETITION
@FORMAT
@tool
def moderations_command(settings: Settings, petition_id: str, output: str) -> None:
    """The audit trail of a petition's moderations: who, when, why, how many.

    \b
    countersign moderations --petition syria-icc
    """
    rows = ServeClient(settings).get(f"/petitions/{petition_id}/moderations")
    if output == "json":
        console.print_json(json.dumps(rows))
        return
    table = Table(title=f"moderations of {petition_id}")
    for column in ("when", "action", "signatures", "batch", "who", "why"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["at"], row["action"], f"{row['signatures']:,}", row["batch_id"], row["actor"],
            row["reason"],
        )  # fmt: skip
    console.print(table)
