"""Campaign scaling: runs per second on 1 and 2 workers, and the store + scheduling overhead.

    python benchmarks/campaign_scaling.py [--runs 24] [--cheap-runs 400] [--skip-workers]
        [--skip-overhead]

How the cost of one run grows with raid size, phase by phase: ``benchmarks/raid_scaling.py``.

(a) ``scenarios/layered_defense.yaml`` through the campaign path that ``iadsim campaign`` uses
(compiled design point, :func:`iadsim.distributed.execute` at the default batch size, every
batch written to a fresh DuckDB :class:`iadsim.store.Store`), on 1 worker (in-process) and 2
workers (a local Dask cluster, its start-up included: this process runs runs itself while the
cluster starts); wall-clock runs/s and the speed-up of 2 workers over 1. From
:class:`iadsim.distributed.ExecStats`: the start-up (until the cluster took over), and the
*overhead*, ``1 - Σ in-worker simulation time / (workers × wall)``: everything that is not
simulating (start-up, scheduling, the store, workers idle at the end), as a % of the total.

(b) The store + scheduling overhead on its own, at the default batch size: the same path with a
trivially cheap scenario (``tests``' one-Tor-against-4-Shaheds scenario cut to 10 s, ~20 ms a
run) so that per-run and per-batch costs show; ``--cheap-runs`` runs on 1 worker (in-process)
and on 2 workers, the latter with start-up excluded (``wall - start``). The store's own share
(time inside ``Store.add``) is shown apart. The issue's bound is < 5% at the default batch size.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

import iadsim
from iadsim.compile import compile_scenario
from iadsim.distributed import ExecStats, execute
from iadsim.scenario import parse_scenario
from iadsim.store import Store

ROOT = Path(__file__).resolve().parents[1]


# The tests' tiny scenario cut to 10 s: runs of ~20 ms, to measure what is not simulation.
CHEAP = (ROOT / "tests" / "data" / "tiny.yaml").read_text(encoding="utf-8").replace(
    "duration_s: 600", "duration_s: 10").replace("name: tiny", "name: cheap")


def campaign_rate(text: str, runs: int, workers: int) -> tuple[float, int, ExecStats, float]:
    """Wall seconds of ``runs`` runs of the scenario ``text`` on ``workers`` via the campaign
    path, the number of runs stored, the execution statistics and the CPU seconds this process
    spent outside simulation (store, scheduler, client, batching)."""
    sc = parse_scenario(yaml.safe_load(text), "bench")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        params = [compile_scenario(sc)]
        with Store.create(Path(tmp) / "bench.duckdb", scenario_name=sc.name, scenario_text=text,
                          version=iadsim.__version__, seed=sc.seed, runs=runs, design=[],
                          points=[{}]) as db:
            c0 = time.process_time()
            stats = execute(params, sc.seed, {0: list(range(runs))}, db.add, workers=workers)
            driver_cpu = time.process_time() - c0
            stored = sum(db.counts().values())
        own = stats.compute_cpu_s if workers == 1 else stats.local_cpu_s  # runs simulated here
        return time.perf_counter() - t0, stored, stats, driver_cpu - own


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=24)
    ap.add_argument("--cheap-runs", type=int, default=400)
    ap.add_argument("--skip-workers", action="store_true")
    ap.add_argument("--skip-overhead", action="store_true")
    args = ap.parse_args()
    console = Console()

    if not args.skip_workers:
        path = ROOT / "scenarios/layered_defense.yaml"
        table = Table(title=f"(a) {path.name} via the campaign path ({args.runs} runs, "
                            f"{os.cpu_count()} cores, iadsim {iadsim.__version__})")
        for col in ("workers", "runs stored", "wall s", "runs/s", "speed-up", "start-up s",
                    "runs/s after start-up", "speed-up after start-up", "batches", "overhead"):
            table.add_column(col, justify="right")
        base = steady = None
        for workers in (1, 2):
            wall, stored, st, _ = campaign_rate(path.read_text(encoding="utf-8"), args.runs,
                                                workers)
            rate = stored / wall
            after = (stored - st.local_runs) / max(st.wall_s - st.start_s, 1e-9)
            base, steady = base or rate, steady or after
            table.add_row(str(workers), str(stored), f"{wall:.2f}", f"{rate:.2f}",
                          f"{rate / base:.2f}x", f"{st.start_s:.2f}", f"{after:.2f}",
                          f"{after / steady:.2f}x", str(st.batches), _pct(st.overhead))
        table.caption = ("overhead: 1 - Σ in-worker simulation time / (workers × wall), "
                         "start-up included; after start-up: the runs the cluster did over the "
                         "time from its take-over (this process runs runs while it starts)")
        console.print(table)

    if not args.skip_overhead:
        table = Table(title=f"(b) store + scheduling overhead at the default batch size: "
                            f"{args.cheap_runs} runs of a cheap scenario")
        for col in ("workers", "wall s", "ms/run (in worker)", "batches", "runs/batch",
                    "store s", "overhead (wall)", "of which the store", "driver CPU / sim CPU"):
            table.add_column(col, justify="right")
        for workers in (1, 2):
            wall, stored, st, driver = campaign_rate(CHEAP, args.cheap_runs, workers)
            busy = st.wall_s - (st.start_s if workers > 1 else 0.0)
            over = st.running_overhead if workers > 1 else st.overhead
            table.add_row(str(workers), f"{wall:.2f}", f"{1000 * st.compute_s / stored:.1f}",
                          str(st.batches), f"{stored / st.batches:.1f}", f"{st.sink_s:.2f}",
                          _pct(over), _pct(st.sink_s / (st.workers * busy)),
                          _pct(driver / st.compute_cpu_s))
        table.caption = ("overhead (wall): 1 - Σ in-worker simulation time / (workers × wall); "
                         "with 2 workers from the moment the cluster took over. driver CPU: CPU "
                         "seconds of this process (store, scheduler, client) outside simulation, "
                         "over the simulation's CPU seconds: insensitive to other load on the "
                         "machine. Bound: < 5%.")
        console.print(table)

if __name__ == "__main__":
    main()
