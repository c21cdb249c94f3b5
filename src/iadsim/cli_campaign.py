"""``iadsim campaign``: Monte Carlo over a design of sweeps, stored run by run in DuckDB.

    iadsim campaign scenarios/X.yaml --runs 2000 --sweep raids[0].count=10:400:10 \\
        --sweep doctrine.salvo_size=1,2 --store out/X.duckdb
    iadsim campaign ... --workers 1                  # in this process
    iadsim campaign ... --scheduler tcp://HOST:8786  # an existing Dask cluster
    iadsim campaign ... --resume                     # finish an interrupted campaign
    iadsim campaign X.yaml --design lhs --samples 64 --sweep raids[0].count=10:400 \
        --sweep doctrine.salvo_size=1,2              # a Latin hypercube (a:b is an interval)
    iadsim campaign ... --sample-uncertain           # draw the catalog's low/high run by run
    iadsim campaign ... --uncertain 9m338k.pk_uav    # only these (repeat)
    iadsim campaign ... --runs 5000 --until-ci 0.01  # stop a point at leak-rate half-width 0.01

Everything (scenario, sweeps, every design point's scenario, the store) is checked before the
store is created. Each finished batch is written at once, so after Ctrl-C (exit 130) or a kill
``--resume`` runs only what is missing; it refuses a store of another scenario text, seed,
design or iadsim version. ``--resume --runs N`` with a larger N extends a finished campaign.
``--resume`` on a path with no store starts a new campaign there. The design (grid or Latin
hypercube, the sampled parameters and their catalog ranges, the ``--until-ci`` rule) is part
of what must match to resume. See :mod:`iadsim.sweep` (designs), :mod:`iadsim.uncertain`
(parameter uncertainty) and :class:`iadsim.distributed.UntilCI` (the stopping rule).

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
from rich.table import Table

from iadsim.cli_common import fail as _fail
from iadsim.cli_common import run_progress

__all__ = ["campaign"]


def _pct(v: float) -> str:
    return "-" if not math.isfinite(v) else f"{100 * v:.1f}%"


def _cell(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


MAX_ROWS = 40  # rows of the summary table; the report has them all


def summary_table(store, title: str) -> Table:
    """One row per design point (the first :data:`MAX_ROWS`): its values, runs, leak rate
    (Wilson 95%), mean leakers and interceptors spent (Student-t 95%)."""
    from iadsim.stats import summarize

    paths = list(store.points[0]) if store.points else []
    table = Table("point", *paths, "runs", "leak_rate", "95% interval", "leakers",
                  "interceptors_spent", title=title)
    if len(store.points) > MAX_ROWS:
        table.caption = (f"first {MAX_ROWS} of {len(store.points)} design points; "
                         f"iadsim report STORE shows them all")
    for i, point in enumerate(store.points[:MAX_ROWS]):
        df = store.per_run(i)
        if df.empty:
            table.add_row(str(i), *(_cell(point[p]) for p in paths), "0", "-", "-", "-", "-")
            continue
        s = summarize(df.drop(columns=["point"])).set_index("metric")
        lr, lk, sp = s.loc["leak_rate"], s.loc["leakers"], s.loc["interceptors_spent"]
        table.add_row(str(i), *(_cell(point[p]) for p in paths), str(len(df)),
                      _pct(lr.estimate),
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
    design_kind: Annotated[str, typer.Option(
        "--design", help="grid (cross product of the sweeps) or lhs (Latin hypercube; "
                         "needs --samples; a:b is an interval)")] = "grid",
    samples: Annotated[int | None, typer.Option(
        help="design points of --design lhs")] = None,
    sample_uncertain: Annotated[bool, typer.Option(
        "--sample-uncertain", help="each run draws every uncertain catalog parameter the "
                                   "scenario reads from its low/high (triangular, mode at the "
                                   "catalog value)")] = False,
    uncertain: Annotated[list[str] | None, typer.Option(
        help="KEY.PARAM to draw from its low/high (repeat; implies --sample-uncertain but "
             "only these), e.g. 9m338k.pk_uav")] = None,
    until_ci: Annotated[float | None, typer.Option(
        help="stop a design point once its leak rate's Wilson 95% interval has half-width "
             "<= this, in (0, 0.5), checked every 10 runs; --runs is then the maximum")] = None,
    events: Annotated[int, typer.Option(
        min=0, max=1000, help="also store the event log of runs 0..N-1 of every design point "
                              "(table 'events'; iadsim report --parquet exports it)")] = 0,
) -> None:
    """Monte Carlo over a design of parameter sweeps; results stored run by run (resumable)."""
    import iadsim
    from iadsim.compile import compile_scenario
    from iadsim.distributed import UntilCI, execute
    from iadsim.scenario import ScenarioError, parse_scenario
    from iadsim.store import Store, StoreError
    from iadsim.sweep import DESIGNS, SweepError, apply_point, design, design_spec
    from iadsim.uncertain import DISTRIBUTION, UncertainError, select

    if workers is not None and scheduler is not None:
        _fail("--workers and --scheduler exclude each other (the cluster has its workers)")
    if design_kind not in DESIGNS:
        _fail(f"--design {design_kind!r}: valid designs: {', '.join(DESIGNS)}")
    if samples is not None and design_kind != "lhs":
        _fail("--samples is for --design lhs (a grid has one point per combination of the "
              "sweeps)")
    if until_ci is not None and not 0 < until_ci < 0.5:
        _fail(f"--until-ci {until_ci:g}: the half-width of the leak rate's 95% interval must "
              f"be in (0, 0.5), e.g. 0.01")
    try:
        text = scenario.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except OSError as exc:
        _fail(f"{scenario}: cannot read file: {exc.strerror}")
    except yaml.YAMLError as exc:
        _fail(f"{scenario}: invalid YAML: {exc}")
    try:
        base = parse_scenario(data, str(scenario))
        seed = base.seed if seed is None else seed
        sweeps, points = design(list(sweep or []), data, design_kind, samples, seed)
        scenarios = [apply_point(data, p, str(scenario)) for p in points]
        drawn = (select(scenarios, list(uncertain) if uncertain else None)
                 if sample_uncertain or uncertain else [])
    except (ScenarioError, SweepError, UncertainError) as exc:
        _fail(str(exc))
    if (sample_uncertain or uncertain) and not drawn:
        _fail("--sample-uncertain: the scenario reads no catalog parameter with a low/high "
              "spread that is not already fixed by its overrides or a --sweep")
    models = scenarios if drawn else [compile_scenario(sc) for sc in scenarios]
    spec = design_spec(sweeps, design_kind, samples)
    if drawn:
        spec["uncertain"] = {"distribution": DISTRIBUTION, "params": [u.spec() for u in drawn]}
    if until_ci is not None:
        spec["until_ci"] = UntilCI(until_ci, runs).spec()
    store = store or Path("out") / f"{base.name}.duckdb"
    meta = {"scenario_text": text, "version": iadsim.__version__, "seed": seed, "design": spec,
            "points": points}
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
        rule = UntilCI(until_ci, runs) if until_ci is not None else None
        need = dict.fromkeys(range(len(points)), runs)
        if rule is not None:  # resume: points already decided by their stored prefix
            for i, rows in db.leak_counts().items():
                n = rule.add(i, rows)
                if n is not None:
                    db.prune(i, n)
                    need[i] = n
        todo = {i: sorted(set(range(need[i])) - db.done(i)) for i in range(len(points))}
        todo = {i: r for i, r in todo.items() if r}
        total = sum(need.values())
        left = sum(len(r) for r in todo.values())
        upto = "up to " if rule is not None else ""
        out.print(f"{base.name}: {len(points)} design point(s) x {upto}{runs} runs, seed {seed}; "
                  f"{total - left} stored, {left} to run -> {store}", highlight=False)
        if drawn:
            out.print(f"drawing {len(drawn)} uncertain catalog parameter(s) per run, "
                      f"{DISTRIBUTION}: {', '.join(u.name for u in drawn)}", highlight=False)
        t0 = time.monotonic()
        try:
            with run_progress() as bar:
                task = bar.add_task(base.name, total=total, completed=total - left, rate=0.0)
                done = 0

                def sink(point: int, rows: list[dict]) -> bool:
                    nonlocal done, total
                    db.add(point, rows)
                    done += len(rows)
                    stop = rule.add(point, rows) if rule is not None else None
                    if stop is not None:
                        dropped = db.prune(point, stop)
                        done -= dropped
                        total -= need[point] - stop
                        need[point] = stop
                        bar.update(task, total=total, advance=-dropped)
                    bar.update(task, advance=len(rows),
                               rate=done / max(time.monotonic() - t0, 1e-9))
                    return stop is not None

                stats = execute(models, seed, todo, sink, workers=workers, scheduler=scheduler,
                                batch_size=batch_size, uncertain=drawn,
                                block=rule.block if rule is not None else None,
                                events_runs=events)
        except KeyboardInterrupt:
            stored = sum(db.counts().values())
            Console(stderr=True).print(f"interrupted: {stored} of {total} runs stored in "
                                       f"{store}; --resume finishes the rest", highlight=False)
            raise typer.Exit(130) from None
        if stats.runs:
            out.print(f"{stats.runs} runs in {stats.batches} batches on {stats.workers} "
                      f"worker(s), {stats.wall_s:.1f} s (start-up {stats.start_s:.1f} s); "
                      f"simulating {100 * (1 - stats.overhead):.1f}% of the workers' time, "
                      f"storing {stats.sink_s:.2f} s", highlight=False)
        each = (f"up to {runs} runs each, stopping at leak-rate half-width <= {until_ci:g}"
                if rule is not None else f"{runs} runs each")
        out.print(summary_table(db, f"{base.name}: results per design point ({each}, 95% "
                                    f"intervals)"))


if __name__ == "__main__":  # pragma: no cover
    typer.run(campaign)
