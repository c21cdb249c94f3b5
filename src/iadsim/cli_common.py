"""Shared pieces of the command-line modules."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def fail(message: str, code: int = 2) -> None:
    """Print one error line on stderr (message text never read as markup) and exit."""
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}",
                                               highlight=False)
    raise typer.Exit(code)


def run_progress() -> Progress:
    """The progress bar of the commands that simulate runs (on stderr): runs done, runs per
    second (task field ``rate``), time elapsed and left."""
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]:.1f} runs/s"), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=Console(stderr=True), transient=False)
