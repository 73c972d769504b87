"""``ToolCommand``: how our short-lived commands run (foreground, one red error line).

Faust's ``AppCommand`` would start a worker; our tools (admin calls, feeds, the
intake) run in the foreground instead, and a ``CountersignError`` becomes one red
line and exit code 1, not a traceback.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from typing import Any, ClassVar, NoReturn

from faust.cli import AppCommand
from rich.console import Console

from streams.app import CountersignApp
from streams.errors import CountersignError
from streams.logs import setup_logging
from streams.settings import Settings

# Piped output (logs, CI, tests) is not squeezed to 80 columns.
console = Console(width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


class ToolCommand(AppCommand):
    """A command that runs in the foreground, without starting a Faust worker."""

    #: Faust registers every Command subclass as a CLI command unless it is abstract
    #: (the flag applies to this class only; our commands subclass it).
    abstract: ClassVar[bool] = True

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        setup_logging(self.settings.log_level)
        try:
            result = self.run(*self.args, *args, **{**self.kwargs, **kwargs})
            if inspect.isawaitable(result):
                asyncio.run(_awaited(result))
        except CountersignError as exc:
            errors.print(f"[red]countersign: {exc}[/]")
            sys.exit(1)
        sys.exit(0)

    @property
    def settings(self) -> Settings:
        app = self.app
        assert isinstance(app, CountersignApp)
        return app.countersign_settings


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
