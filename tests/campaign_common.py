"""Shared by the campaign tests: the tiny scenario, the CLI runner and the stored table."""

from __future__ import annotations

from pathlib import Path

import duckdb
import typer
from typer.testing import CliRunner

from iadsim.cli_campaign import campaign

ROOT = Path(__file__).resolve().parents[1]
TINY = (Path(__file__).parent / "data" / "tiny.yaml").read_text(encoding="utf-8")
ENV = {"COLUMNS": "250"}


def write_tiny(folder: Path, text: str = TINY) -> Path:
    """``folder/tiny.yaml`` with ``text`` (the tiny scenario unless given)."""
    path = folder / "tiny.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _campaign_app() -> typer.Typer:
    app = typer.Typer()
    app.command()(campaign)

    @app.command()
    def _other() -> None:  # a second command keeps "campaign" a subcommand name
        pass

    return app


def cli(*args: str):
    """``iadsim campaign ARGS`` in this process."""
    return CliRunner().invoke(_campaign_app(), ["campaign", *args], env=ENV)


def table(path: Path) -> list[tuple]:
    """Every stored run ``(point, run, metrics)`` in order."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT point, run, metrics FROM runs ORDER BY point, run").fetchall()
    finally:
        con.close()
