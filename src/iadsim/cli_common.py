"""Shared pieces of the command-line modules."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape


def fail(message: str, code: int = 2) -> None:
    """Print one error line on stderr (message text never read as markup) and exit."""
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}",
                                               highlight=False)
    raise typer.Exit(code)
