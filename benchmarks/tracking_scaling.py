"""Time per scan of iadsim's array GNN tracker against the number of simultaneous targets.

    PYTHONPATH=src python benchmarks/tracking_scaling.py [--sizes 100 300 1000 3000 5000]
        [--scans 60] [--warmup 10] [--fa-per-target 0.1] [--seed 3]

One core: ``OMP/OPENBLAS/MKL_NUM_THREADS=1`` are set before numpy loads and the process is
pinned to one CPU where the OS allows. For each size N the scenario comes from
``make_tracking_scenario.generate`` with the FORMAT.md dynamics and sensor (pd 0.9, sigma 50 m,
100 km half-width square) but every target alive from t = 0 for the whole run
(``frac_at_start = 1``, lifetimes 1000 scans > ``--scans``; a few may still leave the square),
and ``fa_per_target * N`` false alarms per scan (0.1: 500 at N = 5000, 10 at N = 100). Each
scan's ``step`` is timed with ``perf_counter``; the first ``--warmup`` scans (track start-up)
are left out, and the table gives the median, p95 and max over the remaining scans. The growth
exponent is the least-squares slope of log(median) against log(N).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from make_tracking_scenario import generate  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from iadsim.tracking.cartesian import CartesianParams, Tracks2D, scan_index, step  # noqa: E402


def scenario(n: int, scans: int, fa_per_target: float, seed: int) -> dict:
    return {"seed": seed, "n_targets": n, "scans": scans, "dt": 1.0, "half_width": 100e3,
            "speed_min": 50.0, "speed_max": 700.0, "sigma_a": 0.5, "frac_at_start": 1.0,
            "life_min": 1000, "life_max": 1000, "frac_turning": 0.3, "turn_g_min": 1.0,
            "turn_g_max": 4.0, "max_turn_rate": 0.2, "pd": 0.9, "sigma": 50.0,
            "clutter_rate": fa_per_target * n}


def time_scans(times, xy, n_scans: int, p: CartesianParams):
    """Seconds per scan of ``step`` and confirmed tracks per scan."""
    k = scan_index(times, p.dt)
    starts = np.searchsorted(k, np.arange(n_scans + 1))
    conf, hold, next_id = Tracks2D.empty(), Tracks2D.empty(), 0
    wall, n_conf = np.zeros(n_scans), np.zeros(n_scans, np.int64)
    for s in range(n_scans):
        z = xy[starts[s]:starts[s + 1]]
        t0 = time.perf_counter()
        conf, hold, next_id = step(conf, hold, z, p.dt, next_id, p)
        wall[s] = time.perf_counter() - t0
        n_conf[s] = len(conf)
    return wall, n_conf


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000, 3000, 5000])
    ap.add_argument("--scans", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--fa-per-target", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--budget-ms", type=float, default=50.0)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    p = CartesianParams(dt=1.0, sigma=50.0)
    table = Table(title=f"iadsim GNN: time per scan, one core, scans {args.warmup}.."
                        f"{args.scans - 1} (after {args.warmup} warm-up scans)")
    for col in ("targets", "false alarms/scan", "detections/scan", "confirmed tracks",
                "median ms", "p95 ms", "max ms", f"p95 < {args.budget_ms:g} ms"):
        table.add_column(col, justify="right", no_wrap=True)
    med = []
    for n in args.sizes:
        dets, truth, _ = generate(scenario(n, args.scans, args.fa_per_target, args.seed))
        wall, n_conf = time_scans(dets[:, 0], dets[:, 1:3], args.scans, p)
        w = wall[args.warmup:] * 1e3
        med.append(float(np.median(w)))
        p95 = float(np.percentile(w, 95))
        table.add_row(str(n), f"{args.fa_per_target * n:g}", f"{len(dets) / args.scans:.0f}",
                      f"{n_conf[args.warmup:].mean():.0f}", f"{med[-1]:.2f}", f"{p95:.2f}",
                      f"{w.max():.2f}", "yes" if p95 < args.budget_ms else "NO")
    console = Console(width=max(Console().width, 120))
    console.print(table)
    if len(args.sizes) > 1:
        slope = np.polyfit(np.log(args.sizes), np.log(med), 1)[0]
        console.print(f"growth exponent (median ms ~ N^b, least squares over all sizes): "
                      f"b = {slope:.2f}")


if __name__ == "__main__":
    main()
