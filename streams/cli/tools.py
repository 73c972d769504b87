"""How our commands run: in the foreground, with the settings loaded once and one
logging setup, and a ``CountersignError`` as one red line and exit code 2 (not a
traceback; the audit tools keep 1 for "a difference found"). Only
``countersign worker`` hands over to Faust (streams/worker/main.py).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

from streams.core.errors import CountersignError
from streams.core.logs import setup_logging
from streams.core.settings import Settings

# Piped output (logs, CI, tests) is not squeezed to 80 columns.
console = Console(width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


def tool(command: Callable[..., Any]) -> Callable[..., None]:
    """Decorate a click command's function: it is called with the settings first, a
    coroutine is run to its end, and a ``CountersignError`` ends the process with 1."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        settings: Settings = click.get_current_context().find_root().obj
        setup_logging(settings.log_level, settings.secret_values)
        try:
            result = command(settings, *args, **kwargs)
            if inspect.isawaitable(result):
                asyncio.run(_awaited(result))
        except CountersignError as exc:
            errors.print(f"[red]countersign: {exc}[/]")
            sys.exit(2)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except Exception:  # a bug or a failure we did not foresee: an error, never "1"
            errors.print_exception()
            sys.exit(2)

    return run


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
