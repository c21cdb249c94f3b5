"""Command line: ``iadsim catalog | validate | run | campaign | report | track``.

Exit codes: 0 success, 2 bad input (scenario, catalog key, option), 130 interrupted. Outputs of
``run`` are written into a temporary folder and moved into place at the end, so an interrupted
or failed run leaves nothing half-written.
"""

from __future__ import annotations

import json
import math
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from iadsim.catalog import CatalogError, load_catalog
from iadsim.cli_campaign import campaign
from iadsim.cli_common import fail as _fail
from iadsim.cli_common import run_progress
from iadsim.cli_report import report
from iadsim.cli_track import track
from iadsim.cli_wta import wta_app

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Integrated air-and-missile defense simulator (public, cited parameters).")
catalog_app = typer.Typer(invoke_without_command=True, no_args_is_help=False,
                          help="List catalog types, or show one with its sources.")
app.add_typer(catalog_app, name="catalog")
app.add_typer(wta_app, name="wta")


class _Lazy:
    """A Rich console made at print time, so it sees the terminal (or test runner) of the call,
    not of the import."""

    def __init__(self, stderr: bool):
        self.stderr = stderr

    def __getattr__(self, name: str):
        return getattr(Console(stderr=self.stderr, soft_wrap=self.stderr), name)


console = _Lazy(stderr=False)
err = _Lazy(stderr=True)


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.6g}"


@catalog_app.callback()
def catalog_list(ctx: typer.Context,
                 kind: Annotated[str | None, typer.Option(help="only this kind")] = None) -> None:
    """Every system, threat, sensor, interceptor and link type, one line each."""
    if ctx.invoked_subcommand:
        return
    cat = load_catalog()
    kinds = ("fire_unit", "interceptor", "sensor", "threat", "link")
    if kind is not None and kind not in kinds:
        _fail(f"unknown kind {kind!r}; valid: {', '.join(kinds)}")
    table = Table("key", "kind", "name", "assumptions", title="iadsim catalog")
    for e in cat.entries.values():
        if kind and e.kind != kind:
            continue
        n_ass = sum(p.is_assumption for p in e.params.values())
        table.add_row(e.key, e.kind, e.name, f"{n_ass}/{len(e.params)}")
    console.print(table)


@catalog_app.command("show")
def catalog_show(key: str) -> None:
    """One type's parameters with unit, low/high range, confidence and source."""
    cat = load_catalog()
    try:
        e = cat.get(key)
    except CatalogError as exc:
        _fail(str(exc))
    console.print(f"[bold]{e.key}[/] ({e.kind}): {e.name}")
    console.print(e.description)
    for k, v in e.refs.items():
        console.print(f"  {k}: {', '.join(v) if isinstance(v, (list, tuple)) else v}")
    table = Table("param", "value", "unit", "low", "high", "confidence", "source", "note")
    for name, p in e.params.items():
        style = "yellow" if p.is_assumption else None
        table.add_row(name, _fmt(p.value), p.unit, _fmt(p.low), _fmt(p.high), p.confidence,
                      ", ".join(p.source), p.note, style=style)
    console.print(table)
    used = sorted({s for p in e.params.values() for s in p.source})
    for s in used:
        console.print(f"  [dim]{s}[/]: {cat.sources.get(s, '?')}", highlight=False)


def _load(path: Path):
    from iadsim.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(path)
    except ScenarioError as exc:
        err.print(f"[bold red]invalid scenario[/] {escape(str(exc))}", highlight=False,
                  markup=True)
        raise typer.Exit(2) from None


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="scenario YAML files")]) -> None:
    """Check scenarios; print a summary of each, or every error (exit code 2)."""
    from iadsim.compile import compile_scenario

    for path in files:
        sc = _load(path)
        p = compile_scenario(sc)
        console.print(f"[green]ok[/] {path}: {sc.name} - {sc.description}")
        console.print(f"  {len(sc.assets)} assets, {len(sc.fire_units)} fire units "
                      f"({', '.join(p.units.type)}), {len(p.sensors)} sensors, "
                      f"{len(sc.raids)} raids of {sc.threat_count} threats "
                      f"({', '.join(f'{r.count} {r.threat}' for r in sc.raids)})")
        console.print(f"  {sc.duration_s:g} s at dt {sc.dt_s:g} s, seed {sc.seed}; "
                      f"{len(p.assumptions)} labelled assumptions used")


def _results_table(summary, runs: int) -> Table:
    table = Table("metric", "estimate", "95% interval", "method",
                  title=f"results over {runs} runs")
    for row in summary.itertuples():
        if "." in row.metric and not row.metric.startswith("leak_rate."):
            continue
        pct = row.metric.startswith(("leak_rate", "p_"))
        f = (lambda v: f"{100 * v:.1f}%") if pct else (lambda v: f"{v:,.3g}")
        if not math.isfinite(row.estimate):
            table.add_row(row.metric, "-", "-", row.method)
            continue
        table.add_row(row.metric, f(row.estimate), f"{f(row.lo)} - {f(row.hi)}", row.method)
    return table


def _versions() -> dict[str, str]:
    import iadsim

    return {"iadsim": iadsim.__version__, "python": platform.python_version(),
            "numpy": np.__version__}


OUTPUT_FILES = ("report.html", "metrics.parquet", "metrics.json", "summary.parquet",
                "events_run0.parquet")


def _json_safe(obj):
    """Strict JSON: NaN and infinities become null, NumPy scalars plain numbers."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def _write_outputs(tmp: Path, sc, text: str, res, runs: int) -> None:
    import pandas as pd
    import pyarrow.parquet as pq

    from iadsim.report import ReportData, write_report

    res.per_run.to_parquet(tmp / "metrics.parquet", index=False)
    res.summary.to_parquet(tmp / "summary.parquet", index=False)
    pq.write_table(res.first.events, tmp / "events_run0.parquet")
    summary = {r.metric: {"estimate": r.estimate, "lo": r.lo, "hi": r.hi, "method": r.method,
                          "n": int(r.n)} for r in res.summary.itertuples()}
    doc = {"scenario": sc.name, "runs": runs, "seed": res.seed, "versions": _versions(),
           "summary": summary, "per_run": res.per_run.to_dict(orient="records")}
    (tmp / "metrics.json").write_text(json.dumps(_json_safe(doc), indent=1, allow_nan=False),
                                      encoding="utf-8")
    p = res.first.params
    w = p.weapons
    sites = [{"name": n, "kind": "fire_unit", "type": ty, "e_m": pos[0], "n_m": pos[1],
              "radius_m": float(w.max_range_m[p.units.has_weapon[i]].max(initial=0.0))}
             for i, (n, ty, pos) in enumerate(zip(p.units.name, p.units.type, p.units.pos,
                                                  strict=True))]
    sites += [{"name": n, "kind": "sensor", "type": ty, "e_m": pos[0], "n_m": pos[1],
               "radius_m": float(rr * (1.0 / rc) ** 0.25)}
              for n, ty, pos, rr, rc in zip(p.sensors.name, p.sensors.type, p.sensors.pos,
                                            p.sensors.ref_range_m, p.sensors.ref_rcs_m2,
                                            strict=True)]
    sites += [{"name": n, "kind": "asset", "type": "asset", "e_m": pos[0], "n_m": pos[1],
               "radius_m": r} for n, pos, r in zip(p.assets.name, p.assets.pos, p.assets.radius_m,
                                                   strict=True)]
    assumptions = pd.DataFrame(list(p.assumptions),
                               columns=["entry", "param", "value", "unit", "note"])
    data = ReportData(
        title=f"iadsim - {sc.name}", scenario_name=sc.name, scenario_text=text, runs=runs,
        seed=res.seed, per_run=res.per_run, summary=res.summary, sites=pd.DataFrame(sites),
        paths=res.first.paths, events=res.first.events_df(), magazine=res.first.magazine,
        assumptions=assumptions, versions=_versions())
    write_report(tmp / "report.html", data)


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML")],
    runs: Annotated[int, typer.Option(min=1, max=1_000_000, help="Monte Carlo runs")] = 200,
    seed: Annotated[int | None, typer.Option(min=0, help="root seed (default: the scenario's)")
                    ] = None,
    out: Annotated[Path | None, typer.Option(help="output folder (default out/<name>)")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="processes (default: all cores)")
                       ] = None,
) -> None:
    """Monte Carlo over runs: results table, metrics, run-0 event log and an HTML report."""
    from iadsim.campaign import run_campaign

    sc = _load(scenario)
    text = scenario.read_text(encoding="utf-8")
    out = (out or Path("out") / sc.name).resolve()
    if out.exists() and not out.is_dir():
        _fail(f"--out {out}: exists and is not a folder")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in OUTPUT_FILES)
        if foreign:
            _fail(f"--out {out}: the folder holds files iadsim did not write "
                  f"({', '.join(foreign[:5])}); choose an empty or new folder")
    try:
        with run_progress() as bar:
            task = bar.add_task(sc.name, total=runs, rate=0.0)

            def step(n: int) -> None:
                bar.advance(task, n)
                elapsed = bar.tasks[task].elapsed or 1e-9
                bar.update(task, rate=bar.tasks[task].completed / elapsed)

            res = run_campaign(sc, runs=runs, seed=seed, workers=workers, progress=step)
    except KeyboardInterrupt:
        err.print("interrupted: nothing written")
        raise typer.Exit(130) from None
    console.print(_results_table(res.summary, runs))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)
    try:
        _write_outputs(tmp, sc, text, res, runs)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    console.print(f"wrote {out}/ ({', '.join(OUTPUT_FILES)})", highlight=False)


app.command("track")(track)
app.command("campaign")(campaign)
app.command("report")(report)


def main() -> None:  # pragma: no cover
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
