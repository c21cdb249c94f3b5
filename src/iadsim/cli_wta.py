"""``iadsim wta solve | bench``: the static weapon-target assignment solvers (docs/wta.md).

``solve`` gives ``--time-limit`` to the chosen solver (a solver without its own certified bound
gets 80% and the Lagrangian / tangent-MILP bound of ``bound.py`` the rest) and writes the
solution JSON atomically. ``bench`` runs every instance of ``DIR/instances`` and compares with
``DIR/best_known.csv`` (column ``best_ub_ba``). Exit codes: 0 success, 2 bad input (file,
option), nothing half-written.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from iadsim.assignment.bound import lower_bound
from iadsim.assignment.solvers import SOLVERS, solve
from iadsim.assignment.wta import (
    Solution,
    WTAFormatError,
    WTAInstance,
    read_instance,
    write_solution,
)
from iadsim.cli_common import fail

wta_app = typer.Typer(no_args_is_help=True, help="Static weapon-target assignment.")


def _solve_with_bound(inst: WTAInstance, solver: str, time_limit: float,
                      seed: int) -> Solution:
    if SOLVERS[solver].bound:  # the solver certifies its own bound: give it all the time
        sol = solve(inst, solver, time_limit, seed)
        lb = sol.lower_bound
    else:
        sol = solve(inst, solver, 0.8 * time_limit, seed)
        lb = max(sol.lower_bound, lower_bound(inst, 0.2 * time_limit, sol.objective, sol.x))
    return Solution(x=sol.x, objective=sol.objective, solver=sol.solver,
                    lower_bound=min(lb, sol.objective), iterations=sol.iterations,
                    seconds=sol.seconds, history=sol.history)


def _check(solver: str, time_limit: float) -> None:
    if solver not in SOLVERS:
        fail(f"unknown solver {solver!r}; valid: {', '.join(SOLVERS)}")
    if not (time_limit > 0 and math.isfinite(time_limit)):
        fail(f"--time-limit must be a positive number of seconds, got {time_limit}")


@wta_app.command("solve")
def solve_cmd(
    instance: Annotated[Path, typer.Argument(help="instance file (.txt or .txt.gz)")],
    time_limit: Annotated[float, typer.Option(help="seconds, solver + bound")] = 10.0,
    out: Annotated[Path, typer.Option(help="solution JSON to write")] = Path("sol.json"),
    solver: Annotated[str, typer.Option(help=f"one of: {', '.join(SOLVERS)}")] = "cg",
    seed: Annotated[int, typer.Option(help="random seed (same seed, same search)")] = 0,
) -> None:
    """Solve INSTANCE and write {instance, objective, lower_bound, solver, shots} to OUT."""
    _check(solver, time_limit)
    if not out.parent.is_dir():
        fail(f"{out}: folder {out.parent} does not exist")
    try:
        inst = read_instance(instance)
    except WTAFormatError as e:
        fail(str(e))
    sol = _solve_with_bound(inst, solver, time_limit, seed)
    write_solution(out, inst, sol)
    gap = 100.0 * (sol.objective - sol.lower_bound) / sol.objective if sol.objective else 0.0
    Console().print(f"[bold]{inst.name}[/] m={inst.m} n={inst.n}: objective "
                    f"{sol.objective:.6f}, lower bound {sol.lower_bound:.6f} "
                    f"(certified gap {gap:.3f}%), {solver}, {sol.iterations} iterations "
                    f"-> {out}", highlight=False)


def read_best_known(path: Path) -> dict[str, dict[str, str]]:
    """best_known.csv rows by instance name; WTAFormatError if the file or a column is bad."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise WTAFormatError(f"{path}: cannot read: {e}") from e
    for col in ("instance", "best_ub_ba", "best_lb"):
        if rows and col not in rows[0]:
            raise WTAFormatError(f"{path}: missing column {col!r}")
    return {r["instance"]: r for r in rows}


def instance_files(folder: Path) -> list[Path]:
    """The instance files in ``folder`` (``*.txt`` and ``*.txt.gz``), sorted by size then name."""
    files = [p for p in folder.iterdir() if p.name.endswith((".txt", ".txt.gz"))]

    def key(p: Path) -> tuple:
        dims = p.name.split(".")[0].split("_")[-1].split("x")
        return (tuple(int(d) for d in dims if d.isdigit()), p.name)

    return sorted(files, key=key)


@wta_app.command("bench")
def bench_cmd(
    folder: Annotated[Path, typer.Argument(help="folder with instances/ and best_known.csv")],
    time_limit: Annotated[float, typer.Option(help="seconds per instance, solver + bound")]
    = 1.0,
    solver: Annotated[str, typer.Option(help=f"one of: {', '.join(SOLVERS)}")] = "cg",
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
) -> None:
    """Solve every instance of FOLDER/instances and compare with FOLDER/best_known.csv."""
    _check(solver, time_limit)
    if not (folder / "instances").is_dir():
        fail(f"{folder}: no instances/ folder")
    try:
        best = read_best_known(folder / "best_known.csv")
        files = instance_files(folder / "instances")
        insts = [read_instance(p) for p in files]
    except WTAFormatError as e:
        fail(str(e))
    if not insts:
        fail(f"{folder / 'instances'}: no *.txt or *.txt.gz instance files")
    table = Table(title=f"WTA benchmark, {solver}, {time_limit:g} s per instance")
    for col in ("instance", "best-known", "ours", "gap %", "lower bound", "certified gap %"):
        table.add_column(col, justify="left" if col == "instance" else "right")
    for inst in insts:
        sol = _solve_with_bound(inst, solver, time_limit, seed)
        bk = float(best[inst.name]["best_ub_ba"]) if inst.name in best else math.nan
        gap = 100.0 * (sol.objective / bk - 1.0) if bk > 0 else math.nan
        cgap = 100.0 * (sol.objective - sol.lower_bound) / sol.objective if sol.objective else 0
        table.add_row(inst.name, f"{bk:.6f}", f"{sol.objective:.6f}", f"{gap:+.4f}",
                      f"{sol.lower_bound:.6f}", f"{cgap:.3f}")
    Console().print(table)
