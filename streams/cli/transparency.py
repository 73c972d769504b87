"""The transparency commands (docs/transparency.md): ``verify-receipt`` and
``audit-log``, which anyone can run against a petition's public log, and
``new-log-key``, which makes the key that signs its heads.

Exit codes as the audit tools': 0 it holds, 1 it does not, 2 an error (a file that
cannot be read, a garbled key, a server that does not answer).
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import click

from streams.audit.public_log import PublicLog, audit_log, receipt_from_log, still_in_the_log
from streams.cli.audit import progress_bar
from streams.cli.tools import console, errors, tool
from streams.core.errors import ConfigurationError
from streams.core.settings import Settings
from streams.rules import receipt_file
from streams.rules.signed_note import NoteError, Signer, Verifier
from streams.rules.transparency import check_receipt, head_count

KEY_HELP = "The log's public key, name+hash+key (as the README and /api/keys publish it)."


def _verifier(key: str) -> Verifier:
    try:
        return Verifier.parse(key)
    except NoteError as exc:
        raise ConfigurationError(f"--key: {exc}") from None


@click.command()
@click.argument("receipt", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", required=True, help=KEY_HELP)
@click.option(
    "--api",
    help="The log's server (http://host:port): find the leaf's proof there, for a receipt "
    "the intake gave (its first half), and check that the newest head still holds it.",
)
@click.option(
    "--save",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the whole receipt (proof and head) here, to check it later offline.",
)
@tool
def verify_receipt_command(
    settings: Settings, receipt: Path, key: str, api: str | None, save: Path | None
) -> None:
    """Check a signer's receipt without trusting the server that gave it.

    The head must be signed by KEY, be the log of the receipt's petition, and hold
    the receipt's signature at its leaf (the inclusion proof is checked here).
    The intake's 202 answer holds a receipt's first half (petition, signature id,
    country, salt): with --api the proof and the head come from the log, and the
    newest head is shown to extend the receipt's (nothing was rewritten since).

    \b
    countersign verify-receipt receipt.json --key 'countersign.example+1a2b3c4d+AR...'
    countersign verify-receipt claim.json --key '...' --api https://sign.example \\
        --save receipt.json
    """
    del settings  # reads no setting: a receipt is checked by what it carries
    verifier = _verifier(key)
    text = receipt.read_text()
    claim = receipt_file.is_claim(text)
    if claim and api is None:
        raise ConfigurationError(
            f"{receipt} holds no proof yet (the intake's first half): give --api, the log's "
            "server, to find it"
        )
    try:
        if claim:
            petition_id, signature_id, country, salt = receipt_file.loads_claim(text)
            log = PublicLog(str(api), petition_id)
            parsed = receipt_from_log(log, signature_id, country, salt, verifier)
        else:
            parsed = receipt_file.loads(text)
        head = check_receipt(parsed, verifier)
        newest = (
            still_in_the_log(PublicLog(api, parsed.petition_id), parsed, verifier) if api else head
        )
    except NoteError as exc:
        errors.print(f"[red]the receipt does not hold:[/] {exc}")
        sys.exit(1)
    if save is not None:
        save.write_text(receipt_file.dumps(parsed) + "\n")
    count = head_count(newest)
    console.print(
        f"[green]the receipt holds:[/] signature {parsed.signature_id} is leaf "
        f"{parsed.leaf_index} of {head.origin}, in the head of {head.size} leaves signed by "
        f"{verifier.name}"
        + ("" if count is None else f"; the log counts {count}")
        + (f" (newest head: {newest.size} leaves)" if newest is not head else "")
    )


@click.command()
@click.argument("petition_id")
@click.option("--api", required=True, help="The log's server (http://host:port).")
@click.option("--key", required=True, help=KEY_HELP)
@click.option(
    "--heads",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file of heads kept from earlier audits (made if missing): each must be a "
    "prefix of the log now, and the newest head is added to it.",
)
@tool
def audit_log_command(
    settings: Settings, petition_id: str, api: str, key: str, heads: Path | None
) -> None:
    """Download every leaf of a petition's public log and check it all.

    The root of the leaves must be the newest signed head's, and every head seen
    before (--heads) must be a prefix of the log: nothing was changed or taken out
    except through a published removal. Each signature must be added only while not
    counted and removed only while counted, and the count each head vouches for must
    be its leaves' additions minus removals. Exits 1 on any mismatch.

    \b
    countersign audit-log syria-icc --api https://sign.example --key '...' \\
        --heads heads.txt
    """
    del settings  # a public audit reads no setting of the pipeline
    verifier = _verifier(key)
    kept = _kept_heads(heads)
    log = PublicLog(api, petition_id)
    with progress_bar() as progress:
        task = progress.add_task(f"leaves of {petition_id}", total=None)
        try:
            result = audit_log(
                log,
                verifier,
                kept,
                on_page=lambda n: progress.advance(task, n),
                on_size=lambda size: progress.update(task, total=size),
            )
        except NoteError as exc:
            errors.print(f"[red]the log does not hold:[/] {exc}")
            sys.exit(1)
    report = result.report
    if heads is not None and result.note not in kept:
        with heads.open("a") as file:
            file.write(result.note + "\x00\n")
    if report.problems:
        for problem in report.problems:
            errors.print(f"[red]{problem}[/]")
        sys.exit(1)
    console.print(
        f"[green]the log of {petition_id} holds:[/] {report.leaves} leaves "
        f"({report.added} added, {report.removed} removed): a count of {report.count}, "
        f"as the newest head vouches; {report.heads} heads checked"
    )


def _kept_heads(path: Path | None) -> list[str]:
    """The signed notes kept in ``path``, one per record (a NUL line ends each)."""
    if path is None or not path.exists():
        return []
    return [note.lstrip("\n") for note in path.read_text().split("\x00\n") if note.strip()]


@click.command()
@click.argument("name")
@tool
def new_log_key_command(settings: Settings, name: str) -> None:
    """Make a key pair for signing the public logs' heads, named NAME (your site).

    Prints the signer key (a secret: set it as COUNTERSIGN_TRANSPARENCY_SIGNER_KEY
    where the sink runs) and its public key (publish it, and set it as
    COUNTERSIGN_TRANSPARENCY_VERIFIER_KEY on API replicas):

    \b
    countersign new-log-key sign.example.org
    """
    del settings
    if not name or any(c in name for c in "+ \n\t"):
        raise ConfigurationError("a key's name has no spaces and no '+' (use your site's name)")
    signer = Signer(name, secrets.token_bytes(32))
    console.print(
        f"COUNTERSIGN_TRANSPARENCY_SIGNER_KEY={signer.encode()}", highlight=False, soft_wrap=True
    )
    console.print(
        f"COUNTERSIGN_TRANSPARENCY_VERIFIER_KEY={signer.verifier.encode()}",
        highlight=False,
        soft_wrap=True,
    )
