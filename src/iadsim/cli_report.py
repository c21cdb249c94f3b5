"""``iadsim report STORE``: a self-contained HTML report of a campaign store.

    iadsim report out/X.duckdb                       # writes out/X.html
    iadsim report out/X.duckdb --out X.html --saturation-leakers 2
    iadsim report out/X.duckdb --parquet out/X/     # also runs/design points/events as Parquet

See :mod:`iadsim.report.campaign` for the contents and the saturation estimate.

Exit codes: 0 success, 2 missing or foreign store (or bad option).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["report"]


def report(
    store: Annotated[Path, typer.Argument(help="DuckDB store written by iadsim campaign")],
    out: Annotated[Path | None, typer.Option(
        help="HTML file to write (default: the store's path with .html)")] = None,
    saturation_leakers: Annotated[float, typer.Option(
        min=0.0, help="saturation threshold: mean leakers per run")] = 1.0,
    parquet: Annotated[Path | None, typer.Option(
        help="also export the store to this folder: runs.parquet (one row per run with the "
             "design values), design_points.parquet, campaign.json, events.parquet")] = None,
) -> None:
    """HTML report of a campaign store: design points, curves per swept parameter, saturation."""
    from iadsim.report.campaign import write_campaign_report
    from iadsim.store import Store, StoreError

    out = out or store.with_suffix(".html")
    try:
        path = write_campaign_report(store, out, saturation_leakers)
        if parquet is not None:
            with Store.open(store) as db:
                files = db.export_parquet(parquet)
            Console(soft_wrap=True).print(
                f"exported {', '.join(f.name for f in files)} to {escape(str(parquet))}",
                highlight=False)
    except StoreError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(exc))}",
                                                   highlight=False)
        raise typer.Exit(2) from None
    Console(soft_wrap=True).print(f"report written to {escape(str(path))}", highlight=False)


if __name__ == "__main__":  # pragma: no cover
    typer.run(report)
