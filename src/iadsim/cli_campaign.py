"""``iadsim campaign``: Monte Carlo over a design of sweeps, stored run by run in DuckDB.

    iadsim campaign scenarios/X.yaml --runs 2000 --sweep raids[0].count=10:400:10 \\
        --sweep doctrine.salvo_size=1,2 --store out/X.duckdb
    iadsim campaign ... --workers 1                  # in this process
    iadsim campaign ... --scheduler tcp://HOST:8786  # an existing Dask cluster
    iadsim campaign ... --resume                     # finish an interrupted campaign

Everything (scenario, sweeps, every design point's scenario, the store) is checked before the
store is created. Each finished batch is written at once, so after Ctrl-C (exit 130) or a kill
``--resume`` runs only what is missing; it refuses a store of another scenario text, seed,
design or iadsim version. ``--resume --runs N`` with a larger N extends a finished campaign.
``--resume`` on a path with no store starts a new campaign there.

Exit codes: 0 success, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from iadsim.cli_common import fail as _fail

__all__ = ["campaign"]


def _pct(v: float) -> str:
    return "-" if not math.isfinite(v) else f"{100 * v:.1f}%"


def summary_table(store, title: str) -> Table:
    """One row per design point: its values, runs, leak rate (Wilson 95%), mean leakers and
    interceptors spent (Student-t 95%)."""
    from iadsim.stats import summarize

    paths = list(store.points[0]) if store.points else []
    table = Table("point", *paths, "runs", "leak_rate", "95% interval", "leakers",
                  "interceptors_spent", title=title)
    for i, point in enumerate(store.points):
        df = store.per_run(i)
        if df.empty:
            table.add_row(str(i), *(str(point[p]) for p in paths), "0", "-", "-", "-", "-")
            continue
        s = summarize(df.drop(columns=["point"])).set_index("metric")
        lr, lk, sp = s.loc["leak_rate"], s.loc["leakers"], s.loc["interceptors_spent"]
        table.add_row(str(i), *(str(point[p]) for p in paths), str(len(df)), _pct(lr.estimate),
                      f"{_pct(lr.lo)} - {_pct(lr.hi)}",
                      f"{lk.estimate:,.3g} ± {(lk.hi - lk.lo) / 2:,.2g}",
                      f"{sp.estimate:,.3g} ± {(sp.hi - sp.lo) / 2:,.2g}")
    return table


def campaign(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML")],
    runs: Annotated[int, typer.Option(min=1, max=10_000_000,
                                      help="Monte Carlo runs per design point")] = 200,
    sweep: Annotated[list[str] | None, typer.Option(
        help="PATH=SPEC, e.g. raids[0].count=10:400:10 or doctrine.salvo_size=1,2 "
             "(repeat for a cross product)")] = None,
    store: Annotated[Path | None, typer.Option(
        help="DuckDB result store (default out/<scenario name>.duckdb)")] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, help="worker processes (default: all cores; 1 runs in this process)")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="address of a running Dask scheduler, e.g. tcp://HOST:8786")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="finish the campaign in --store (only the missing runs)")] = False,
    seed: Annotated[int | None, typer.Option(min=0, help="root seed (default: the scenario's)")
                    ] = None,
    batch_size: Annotated[int | None, typer.Option(
        min=1, help="runs per task (default: automatic)")] = None,
) -> None:
    """Monte Carlo over a design of parameter sweeps; results stored run by run (resumable)."""
    import iadsim
    from iadsim.compile import compile_scenario
    from iadsim.distributed import execute
    from iadsim.scenario import ScenarioError, parse_scenario
    from iadsim.store import Store, StoreError
    from iadsim.sweep import SweepError, apply_point, design

    if workers is not None and scheduler is not None:
        _fail("--workers and --scheduler exclude each other (the cluster has its workers)")
    try:
        text = scenario.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except OSError as exc:
        _fail(f"{scenario}: cannot read file: {exc.strerror}")
    except yaml.YAMLError as exc:
        _fail(f"{scenario}: invalid YAML: {exc}")
    try:
        base = parse_scenario(data, str(scenario))
        sweeps, points = design(list(sweep or []), data)
        scenarios = [apply_point(data, p, str(scenario)) for p in points]
    except (ScenarioError, SweepError) as exc:
        _fail(str(exc))
    seed = base.seed if seed is None else seed
    params = [compile_scenario(sc) for sc in scenarios]
    spec = [{"path": s.path, "values": list(s.values)} for s in sweeps]
    store = store or Path("out") / f"{base.name}.duckdb"
    meta = {"scenario_text": text, "version": iadsim.__version__, "seed": seed, "design": spec}
    out = Console(soft_wrap=True)
    try:
        if store.exists() and not resume:
            _fail(f"{store}: already exists; pass --resume to finish that campaign, or choose "
                  f"another --store")
        if store.exists():
            db = Store.open(store, expect=meta)
        else:
            if resume:
                out.print(f"no store at {store}: starting a new campaign", highlight=False)
            db = Store.create(store, scenario_name=base.name, scenario_text=text,
                              version=iadsim.__version__, seed=seed, runs=runs, design=spec,
                              points=points)
    except StoreError as exc:
        _fail(str(exc))
    with db:
        if runs > db.runs:
            db.set_runs(runs)
        runs = db.runs
        todo = {i: sorted(set(range(runs)) - db.done(i)) for i in range(len(points))}
        todo = {i: r for i, r in todo.items() if r}
        total = runs * len(points)
        left = sum(len(r) for r in todo.values())
        out.print(f"{base.name}: {len(points)} design point(s) x {runs} runs, seed {seed}; "
                  f"{total - left} stored, {left} to run -> {store}", highlight=False)
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]:.1f} runs/s"), TimeElapsedColumn(),
                   TimeRemainingColumn())
        t0 = time.monotonic()
        try:
            with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
                task = bar.add_task(base.name, total=total, completed=total - left, rate=0.0)
                done = 0

                def sink(point: int, rows: list[dict]) -> None:
                    nonlocal done
                    db.add(point, rows)
                    done += len(rows)
                    bar.update(task, advance=len(rows),
                               rate=done / max(time.monotonic() - t0, 1e-9))

                execute(params, seed, todo, sink, workers=workers, scheduler=scheduler,
                        batch_size=batch_size)
        except KeyboardInterrupt:
            stored = sum(db.counts().values())
            Console(stderr=True).print(f"interrupted: {stored} of {total} runs stored in "
                                       f"{store}; --resume finishes the rest", highlight=False)
            raise typer.Exit(130) from None
        out.print(summary_table(db, f"{base.name}: results per design point ({runs} runs each, "
                                    f"95% intervals)"))


if __name__ == "__main__":  # pragma: no cover
    typer.run(campaign)
