"""Campaign scaling: runs per second on 1 and 2 workers, and the cost of one run vs raid size.

    python benchmarks/campaign_scaling.py [--runs 24] [--sizes 10 30 100 300 1000] [--big 5000]

(a) ``scenarios/layered_defense.yaml`` through the campaign path that ``iadsim campaign`` uses
(compiled design point, :func:`iadsim.distributed.execute`, every batch written to a fresh
DuckDB :class:`iadsim.store.Store`), on 1 worker (in-process) and 2 workers (a local Dask
cluster, its start-up included); wall-clock runs/s and the speed-up of 2 workers over 1.

(b) One run of ``scenarios/tor_drone_swarm.yaml`` reduced to its first raid (Shahed-136 from
the south) with ``count = N`` for each size, the launch spacing set to ``180 / N`` s so the
whole raid still launches within 3 min (the scenario's spacing times count would outlast the
900 s scenario above ~300). Each size is compiled (timed apart) and run once (run 0, seed of
the scenario); the engine time is fitted as ``t = a * N^b`` by least squares on log-log, and
the local exponents between neighbouring sizes are shown. ``--big N`` adds one more size, run
only when the extrapolated time (the larger of the fit's and the
last two sizes' local power law) is under 60 s.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from rich.console import Console
from rich.table import Table

import iadsim
from iadsim.campaign import simulate_params
from iadsim.compile import compile_scenario
from iadsim.distributed import execute
from iadsim.scenario import parse_scenario
from iadsim.store import Store

ROOT = Path(__file__).resolve().parents[1]


def campaign_rate(path: Path, runs: int, workers: int) -> tuple[float, int]:
    """Wall seconds of ``runs`` runs of ``path`` on ``workers`` via the campaign path, and the
    number of runs stored."""
    text = path.read_text(encoding="utf-8")
    sc = parse_scenario(yaml.safe_load(text), str(path))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        params = [compile_scenario(sc)]
        with Store.create(Path(tmp) / "bench.duckdb", scenario_name=sc.name, scenario_text=text,
                          version=iadsim.__version__, seed=sc.seed, runs=runs, design=[],
                          points=[{}]) as db:
            execute(params, sc.seed, {0: list(range(runs))}, db.add, workers=workers)
            stored = sum(db.counts().values())
        return time.perf_counter() - t0, stored


def swarm(n: int) -> dict:
    data = yaml.safe_load((ROOT / "scenarios/tor_drone_swarm.yaml").read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    raid = data["raids"][0]
    raid["count"] = n
    raid["spacing_s"] = 180.0 / n
    data["raids"] = [raid]
    return data


def time_run(n: int) -> tuple[float, float, dict]:
    t0 = time.perf_counter()
    params = compile_scenario(parse_scenario(swarm(n), f"swarm-{n}"))
    t1 = time.perf_counter()
    res = simulate_params(params, 11, 0)
    return t1 - t0, time.perf_counter() - t1, res.metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=24)
    ap.add_argument("--sizes", type=int, nargs="*", default=[10, 30, 100, 300, 1000])
    ap.add_argument("--big", type=int, default=5000, help="extra size, if predicted < 60 s")
    ap.add_argument("--skip-workers", action="store_true")
    args = ap.parse_args()
    console = Console()

    if not args.skip_workers:
        path = ROOT / "scenarios/layered_defense.yaml"
        table = Table(title=f"(a) {path.name} via the campaign path ({args.runs} runs, "
                            f"{os.cpu_count()} cores, iadsim {iadsim.__version__})")
        for col in ("workers", "runs stored", "wall s", "runs/s", "speed-up"):
            table.add_column(col, justify="right")
        base = None
        for workers in (1, 2):
            wall, stored = campaign_rate(path, args.runs, workers)
            rate = stored / wall
            base = base or rate
            table.add_row(str(workers), str(stored), f"{wall:.2f}", f"{rate:.2f}",
                          f"{rate / base:.2f}x")
        console.print(table)

    sizes, times, rows = [], [], []
    for n in args.sizes:
        c, t, m = time_run(n)
        sizes.append(n)
        times.append(t)
        rows.append((n, c, t, m))
        console.print(f"N={n}: compile {c:.3f} s, run {t:.3f} s", highlight=False)
    b, loga = np.polyfit(np.log(sizes), np.log(times), 1)
    if args.big:
        # the larger of the global fit and the extrapolation of the last two sizes
        b_last = math.log(times[-1] / times[-2]) / math.log(sizes[-1] / sizes[-2])
        predicted = max(math.exp(loga) * args.big ** b,
                        times[-1] * (args.big / sizes[-1]) ** b_last)
        if predicted < 60:
            c, t, m = time_run(args.big)
            rows.append((args.big, c, t, m))
        else:
            console.print(f"N={args.big} skipped: predicted {predicted:.0f} s > 60 s")
    table = Table(title="(b) one run of tor_drone_swarm's Shahed raid vs raid size N")
    for col in ("N", "compile s", "run s", "ms/threat", "local b", "leakers", "kills",
                "interceptors"):
        table.add_column(col, justify="right")
    for i, (n, c, t, m) in enumerate(rows):
        prev = rows[i - 1] if i else None
        local = "" if prev is None else f"{math.log(t / prev[2]) / math.log(n / prev[0]):.2f}"
        table.add_row(str(n), f"{c:.3f}", f"{t:.3f}", f"{1000 * t / n:.2f}", local,
                      f"{m.get('leakers', float('nan')):g}", f"{m.get('kills', float('nan')):g}",
                      f"{m.get('interceptors_spent', float('nan')):g}")
    table.caption = (f"fit over N = {', '.join(map(str, sizes))}: run time ≈ "
                     f"{math.exp(loga):.3g} s · N^{b:.2f}")
    console.print(table)


if __name__ == "__main__":
    main()
