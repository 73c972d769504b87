"""The privacy commands (docs/privacy.md): ``erase`` a signer's personal data, and
``retention`` shreds a petition's past its policy, without touching any count.
Through ``countersign serve``'s authenticated /ops routes, so a script and the
command do the very same."""

from __future__ import annotations

import getpass

import click
from rich.table import Table

from streams.audit.serve_client import ServeClient
from streams.cli.tools import console, tool
from streams.core.settings import Settings


@click.command()
@click.option("--email", required=True, help="The signer's address, as they gave it.")
@click.option("--petition", "petition_id", default=None, help="Only this petition (default: all).")
@click.option("--reason", default=None, help="Why, in a few words (kept with the erasure).")
@click.option("--actor", default=None, help="Who asks (default: your user name).")
@click.option("--dry-run", is_flag=True, help="Only say what would be erased.")
@tool
def erase_command(  # noqa: PLR0917
    settings: Settings,
    email: str,
    petition_id: str | None,
    reason: str | None,
    actor: str | None,
    dry_run: bool,
) -> None:
    """Erase a signer's personal data; their signatures stay counted.

    Deletes every data key the signer holds on keys.signers (for one petition, or
    all): their name, address, IP and the rest, sealed under those keys in the audit
    log, ClickHouse and the outbox, can no longer be read, and the keys are off every
    broker's disk within the bound the command prints. The counts, `reconcile` and
    `replay` do not change; `export` leaves the name out and says how many were
    erased. The erasure is recorded on privacy.erasures (who, when, why, which keys),
    never the address. Only signatures sealed at the intake can be erased so
    (COUNTERSIGN_SEAL_PERSONAL_DATA).

    \b
    countersign erase --email layla@example.org --reason "asked by mail, ticket 4411"
    countersign erase --email layla@example.org --petition syria-icc --dry-run
    """
    client = ServeClient(settings)
    body = {"email": email, "petition_id": petition_id, "actor": actor or getpass.getuser()}
    if dry_run:
        found = client.post("/erasures", {**body, "dry_run": True})
        where = ", ".join(found["petitions"]) or "no petition"
        console.print(f"would erase {found['keys']} keys ({where})")
        return
    with console.status("erasing…"):
        erased = client.post("/erasures", {**body, "reason": reason})
    if not erased["keys"]:
        console.print(
            "no key of that address here: nothing sealed to erase "
            f"(recorded as erasure {erased['erasure_id']})"
        )
        return
    console.print(
        f"erased {erased['keys']} keys of {', '.join(erased['petitions'])} "
        f"(erasure [bold]{erased['erasure_id']}[/]); the counts do not change; "
        f"off every broker's disk by {erased['gone_by']}"
    )


@click.command()
@click.option("--dry-run", is_flag=True, help="Only list the petitions and what would go.")
@click.option("--actor", default=None, help="Who asks (default: your user name).")
@tool
def retention_command(settings: Settings, dry_run: bool, actor: str | None) -> None:
    """Shred the names of petitions past their retention; the counts stay.

    A petition with `retain_names_days` (`petitions add --retain-names-days`) keeps
    its signers' personal data that many days after it closes. Then every data key
    of the petition is deleted, as `erase` deletes one signer's. `countersign serve`
    does this by itself every COUNTERSIGN_RETENTION_CHECK_SECONDS; this command does
    it now, through serve's /ops routes. Take the delivery export before: `export`
    warns in the last week.

    \b
    countersign retention --dry-run     # every petition with a policy, and when
    countersign retention               # shred what is due now
    """
    client = ServeClient(settings)
    body = {"actor": actor or getpass.getuser(), "dry_run": dry_run}
    with console.status("reading keys.signers…" if dry_run else "shredding…"):
        answer = client.post("/retention", body)
    table = Table(title="retention of signers' names")
    for column in ("petition", "names go at", "state", "keys left"):
        table.add_column(column)
    for planned in answer["petitions"]:
        table.add_row(
            planned["petition_id"],
            planned["shred_at"] or "when it closes",
            planned["state"],
            f"{planned['keys']:,}",
        )
    console.print(table)
    if dry_run:
        due = [p for p in answer["petitions"] if p["state"] == "due" and p["keys"]]
        console.print(
            f"would shred {sum(p['keys'] for p in due):,} keys of {len(due)} petitions"
            if due
            else "nothing due: no key would go now"
        )
        return
    erasures = answer["erasures"]
    console.print(
        f"shredded {sum(e['keys'] for e in erasures):,} keys in {len(erasures)} erasures; "
        "the counts do not change"
        if erasures
        else "nothing due: no key went"
    )
