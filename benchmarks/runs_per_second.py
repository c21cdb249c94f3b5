"""Runs per second of the example scenarios, on 1 worker and on all cores.

    python benchmarks/runs_per_second.py [--runs 20] [--scenarios scenarios/a.yaml ...]

Prints one table row per (scenario, workers): runs, wall seconds, runs per second, seconds per
run, and the speed-up of N workers over one. Wall-clock time of whole campaigns (the way users
run them), including process start-up and the recorded run 0.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

import iadsim
from iadsim.campaign import default_workers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--scenarios", nargs="*", type=Path,
                    default=sorted(Path("scenarios").glob("*.yaml")))
    args = ap.parse_args()
    cores = default_workers()
    table = Table(title=f"iadsim {iadsim.__version__}: runs per second ({os.cpu_count()} cores)")
    for col in ("scenario", "threats", "workers", "runs", "wall s", "runs/s", "s/run",
                "speed-up"):
        table.add_column(col, no_wrap=True)
    for path in args.scenarios:
        sc = iadsim.load_scenario(path)
        base = None
        for workers in sorted({1, cores}):
            t0 = time.perf_counter()
            iadsim.run_campaign(sc, runs=args.runs, workers=workers)
            wall = time.perf_counter() - t0
            rate = args.runs / wall
            base = base or rate
            table.add_row(path.stem, str(sc.threat_count), str(workers), str(args.runs),
                          f"{wall:.1f}", f"{rate:.2f}", f"{1 / rate:.2f}", f"{rate / base:.2f}x")
    Console().print(table)


if __name__ == "__main__":
    main()
