"""Doctrine comparison on the layered example: leakers and interceptors spent, paired by run.

    python benchmarks/doctrines.py [--runs 500] [--workers 2] [--csv out/doctrines.csv]
    python benchmarks/doctrines.py --table-only --csv out/doctrines.csv [more.csv]  # re-print

Each doctrine is ``scenarios/layered_defense.yaml`` with its ``doctrine`` block changed (table
:data:`DOCTRINES`), run ``--runs`` times with :func:`iadsim.run_campaign` and the same root seed.
Run ``r`` of every doctrine draws the same threats and the same sensing and network numbers
(common random numbers, docs/model.md section 12), so the per-run *difference* to the baseline
doctrine is far less noisy than either figure alone. For every metric the table gives the mean
per run with its 95 % Student-t interval and the mean paired difference to the baseline with
its own 95 % t interval (over the per-run differences). Per-run rows are appended to ``--csv``
after each doctrine, so a long measurement that is stopped keeps what it has done.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import pandas as pd
import yaml

import iadsim
from iadsim.stats import mean_interval

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "layered_defense.yaml"

# name -> changes to the scenario's doctrine block; the first is the baseline
DOCTRINES: dict[str, dict] = {
    "shoot-look-shoot": {"mode": "shoot-look-shoot"},
    "shoot-shoot-look": {"mode": "shoot-shoot-look"},
    "salvo": {"mode": "salvo"},
    "preserve": {"mode": "shoot-look-shoot", "preserve_long_range": True},
    "greedy": {"mode": "shoot-look-shoot", "planner": "greedy"},
}
METRICS = [("leakers", "leakers"), ("leakers.shahed-136", "drones"), ("leakers.kh-101", "cruise"),
           ("leakers.mig-29", "fighters"), ("leakers.umpk-fab", "glide bombs"),
           ("leakers.srbm", "SRBMs"), ("interceptors_spent", "rounds"),
           ("long_range", "48N6 + 40N6"), ("interceptor_cost_usd", "cost M$")]


def run(names: list[str], runs: int, workers: int, seed: int | None, csv: Path) -> pd.DataFrame:
    data = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    frames = []
    for name in names:
        d = copy.deepcopy(data)
        d.setdefault("doctrine", {}).update(DOCTRINES[name])
        sc = iadsim.parse_scenario(d, f"{SCENARIO.name} [{name}]")
        t0 = time.perf_counter()
        res = iadsim.run_campaign(sc, runs=runs, seed=seed, workers=workers)
        per_run = res.per_run.assign(doctrine=name)
        print(f"{name}: {runs} runs in {time.perf_counter() - t0:.0f} s", flush=True)
        per_run.to_csv(csv, mode="a", header=not csv.exists(), index=False)
        frames.append(per_run)
    return pd.concat(frames, ignore_index=True)


def _fmt(est: float, lo: float, hi: float, scale: float) -> str:
    return f"{est / scale:.2f} [{lo / scale:.2f}, {hi / scale:.2f}]"


def table(per_run: pd.DataFrame) -> str:
    """Markdown table: mean [95 % CI] per doctrine and paired difference to the baseline."""
    per_run = per_run.drop_duplicates(["doctrine", "run"], keep="last")
    per_run = per_run.assign(long_range=per_run["spent.48n6"] + per_run["spent.40n6"])
    names = [n for n in DOCTRINES if n in set(per_run["doctrine"])]
    base = per_run[per_run["doctrine"] == names[0]].set_index("run")
    lines = ["| doctrine | runs | " + " | ".join(label for _, label in METRICS) + " |",
             "|---|---|" + "---|" * len(METRICS)]
    for name in names:
        mine = per_run[per_run["doctrine"] == name].set_index("run")
        cells = []
        for col, _ in METRICS:
            scale = 1e6 if col.endswith("_usd") else 1.0
            cell = _fmt(*mean_interval(mine[col]), scale)
            if name != names[0]:
                common = mine.index.intersection(base.index)
                diff = mine.loc[common, col] - base.loc[common, col]
                cell += f"<br>Δ {_fmt(*mean_interval(diff), scale)}"
            cells.append(cell)
        lines.append(f"| {name} | {len(mine)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=None, help="root seed (default: scenario's)")
    ap.add_argument("--doctrines", nargs="+", default=list(DOCTRINES), choices=list(DOCTRINES))
    ap.add_argument("--csv", type=Path, nargs="+", default=[ROOT / "out" / "doctrines.csv"],
                    help="per-run rows (written; with --table-only, read, several allowed)")
    ap.add_argument("--table-only", action="store_true", help="print the table of --csv")
    ap.add_argument("--force", action="store_true", help="overwrite --csv")
    args = ap.parse_args()
    if args.table_only:
        per_run = pd.concat([pd.read_csv(f) for f in args.csv], ignore_index=True)
    else:
        csv = args.csv[0]
        csv.parent.mkdir(parents=True, exist_ok=True)
        if csv.exists() and not args.force:
            raise SystemExit(f"{csv} exists; remove it, pick another --csv or pass --force")
        csv.unlink(missing_ok=True)
        per_run = run(args.doctrines, args.runs, args.workers, args.seed, csv)
    print(table(per_run))


if __name__ == "__main__":
    main()
