"""The transparency commands (docs/transparency.md): ``verify-receipt``.

Exit codes as the audit tools': 0 the receipt holds, 1 it does not, 2 an error (the file
cannot be read, the key is garbled).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from streams.cli.tools import console, errors, tool
from streams.core.errors import ConfigurationError
from streams.core.settings import Settings
from streams.rules import receipt_file
from streams.rules.signed_note import NoteError, Verifier
from streams.rules.transparency import check_receipt, head_count


@click.command()
@click.argument("receipt", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--key",
    required=True,
    help="The log's public key, name+hash+key (as the README and /api/keys publish it).",
)
@tool
def verify_receipt_command(settings: Settings, receipt: Path, key: str) -> None:
    """Check a signer's receipt without trusting the server that gave it.

    The head in the receipt must be signed by KEY, be the log of the receipt's
    petition, and hold the receipt's signature at its leaf (the inclusion proof is
    checked here, from the receipt's own data):

        countersign verify-receipt receipt.json --key 'countersign.example+1a2b3c4d+AR...'
    """
    del settings  # reads no setting: a receipt is checked by what it carries
    try:
        verifier = Verifier.parse(key)
    except NoteError as exc:
        raise ConfigurationError(f"--key: {exc}") from None
    parsed = receipt_file.loads(receipt.read_text())
    try:
        head = check_receipt(parsed, verifier)
    except NoteError as exc:
        errors.print(f"[red]the receipt does not hold:[/] {exc}")
        sys.exit(1)
    count = head_count(head)
    console.print(
        f"[green]the receipt holds:[/] signature {parsed.signature_id} is leaf "
        f"{parsed.leaf_index} of {head.origin}, in the head of {head.size} leaves signed by "
        f"{verifier.name}" + ("" if count is None else f" (count {count})")
    )
