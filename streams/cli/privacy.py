"""The privacy commands (docs/privacy.md): ``erase`` a signer's personal data without
touching any count. Through ``countersign serve``'s authenticated /ops routes, so a
script and the command do the very same."""

from __future__ import annotations

import getpass

import click

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
