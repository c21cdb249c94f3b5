"""Manoeuvring targets in heavy clutter: iadsim GNN, IMM+JPDA vs Stone Soup GNN and JPDA.

    PYTHONPATH=src python benchmarks/tracking_manoeuvre.py [--seeds 1 2 ... 8] [--dir DIR ...]
        [--n-targets 50] [--scans 200] [--clutter-rate 60] [--no-stonesoup-jpda]
        [--trackers gnn imm-jpda cv-jpda imm-gnn] [--cache out/tracking_manoeuvre]
        [--no-cache] [--keep OUT] [--json FILE]

Without ``--dir`` one scenario per ``--seeds`` value (default 7) is generated with
``benchmarks/make_tracking_scenario.py`` (FORMAT.md dynamics: 30 % of targets make 1-2
coordinated turns of 1-4 g; Pd 0.9, sigma 50 m, ``clutter_rate`` false alarms per scan).
Trackers, all on the same detections:

- ``iadsim GNN`` (``gnn``): :func:`iadsim.tracking.cartesian.run_tracker` (CV, q = 400 m^2/s^3);
- ``iadsim IMM+JPDA`` (``imm-jpda``): :func:`iadsim.tracking.cartesian_advanced.
  run_tracker_advanced` with its defaults (those of ``iadsim track --filter imm --assoc jpda``);
- ``iadsim CV+JPDA`` (``cv-jpda``) and ``iadsim IMM+GNN`` (``imm-gnn``): the same tracker with
  the CV model only, or with GNN association (ablations);
- ``Stone Soup GNN``: ``benchmarks/tracking_vs_stonesoup.run_stonesoup`` (MultiTargetTracker,
  GNNWith2DAssignment, MultiMeasurementInitiator; the iadsim GNN's model and settings);
- ``Stone Soup JPDA``: ``MultiTargetMixtureTracker`` with ``JPDAwithEHM`` (exact JPDA
  marginals, Maskell et al. 2004; plain ``JPDA`` enumerates the product over all tracks and
  does not finish at this size) over ``PDAHypothesiser(Pd, clutter density, prob_gate)``,
  the same CV Kalman predictor/updater, initiator and deleters as Stone Soup GNN.

Every output is scored with ``/work/shared/tracking/score.py`` (p = 1, c = 500 m). The first
table has one row per scenario and tracker, the second one row per tracker over all scenarios:
mean OSPA, summed ID switches, and the number of scenarios where the tracker beats Stone Soup
GNN on both OSPA and ID switches.

Stone Soup takes minutes per scenario, so its track tables (and wall times) are cached in
``--cache`` (git-ignored ``out/`` by default), keyed by the SHA-1 of the detections and its
settings; generated scenarios are kept there too. A cached row is marked ``*``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tracking_vs_stonesoup import _load_scorer, _materialise, run_stonesoup  # noqa: E402

from iadsim.tracking.cartesian import CartesianParams, run_tracker, scan_index  # noqa: E402
from iadsim.tracking.cartesian_advanced import (  # noqa: E402
    AdvancedParams,
    run_tracker_advanced,
)
from iadsim.tracking.io import read_detections, read_params, write_tracks  # noqa: E402

SHARED = Path("/work/shared/tracking")
HERE = Path(__file__).resolve().parent
IADSIM = {"gnn": "iadsim GNN", "imm-jpda": "iadsim IMM+JPDA", "cv-jpda": "iadsim CV+JPDA",
          "imm-gnn": "iadsim IMM+GNN"}
SS_GNN, SS_JPDA = "Stone Soup GNN", "Stone Soup JPDA"


def run_stonesoup_jpda(times, xy, p: CartesianParams, n_scans: int, pd: float,
                       clutter_density: float) -> np.ndarray:
    """Stone Soup JPDA (EHM) tracker with the CV model of ``p``; table as ``run_tracker``."""
    return run_stonesoup(times, xy, p, n_scans, jpda=(pd, clutter_density))


def _stonesoup_cached(cache: Path | None, times, xy, p: CartesianParams, n_scans: int,
                      jpda: tuple[float, float] | None):
    """``(table, wall_s, cached)`` of a Stone Soup run, from ``cache`` when the key matches."""
    key = hashlib.sha1(np.ascontiguousarray(np.column_stack([times, xy])).tobytes()
                       + repr((p, n_scans, jpda)).encode()).hexdigest()[:16]
    f = cache / "stonesoup" / f"{'jpda' if jpda else 'gnn'}_{key}.npz" if cache else None
    if f is not None and f.exists():
        with np.load(f) as npz:
            return npz["table"], float(npz["wall"]), True
    t0 = time.perf_counter()
    tab = run_stonesoup(times, xy, p, n_scans, jpda=jpda)
    wall = time.perf_counter() - t0
    if f is not None:
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_suffix(".tmp.npz")
        np.savez(tmp, table=tab, wall=wall)
        tmp.replace(f)
    return tab, wall, False


def _scenario(seed: int, args, root: Path) -> Path:
    """Folder of the generated scenario for ``seed`` (generated once into ``root``)."""
    d = root / f"seed{seed}_n{args.n_targets}_k{args.scans}_c{args.clutter_rate:g}"
    if not (d / "params.json").exists():
        subprocess.run([sys.executable, str(HERE / "make_tracking_scenario.py"), "--out",
                        str(d), "--seed", str(seed), "--n-targets", str(args.n_targets),
                        "--scans", str(args.scans), "--clutter-rate", str(args.clutter_rate)],
                       check=True)
    return d


def run_scenario(d: Path, args, scorer, out_dir: Path) -> tuple[dict, list[dict]]:
    """Run every selected tracker on scenario folder ``d``; ``(params, result rows)``."""
    prm = read_params(d / "params.json")
    times, xy = read_detections(d / "detections.csv")
    n_scans = int(prm.get("scans", scan_index(times, prm["dt"])[-1] + 1))
    adv = AdvancedParams.from_params_json(prm)
    base = CartesianParams(dt=float(prm["dt"]), sigma=float(prm["sigma"]))
    runs = {
        "gnn": lambda: run_tracker(times, xy, base, n_scans),
        "imm-jpda": lambda: run_tracker_advanced(times, xy, adv, "imm", "jpda", n_scans),
        "cv-jpda": lambda: run_tracker_advanced(times, xy, adv, "cv", "jpda", n_scans),
        "imm-gnn": lambda: run_tracker_advanced(times, xy, adv, "imm", "gnn", n_scans),
    }
    jobs = [(IADSIM[k], runs[k]) for k in args.trackers]
    cache = None if args.no_cache else args.cache
    if not args.no_stonesoup:
        jobs.append((SS_GNN, lambda: _stonesoup_cached(cache, times, xy, base, n_scans, None)))
        if not args.no_stonesoup_jpda:
            jobs.append((SS_JPDA, lambda: _stonesoup_cached(
                cache, times, xy, base, n_scans, (adv.pd, adv.clutter_density))))
    rows = []
    for name, fn in jobs:
        t0 = time.perf_counter()
        res = fn()
        wall, cached = time.perf_counter() - t0, False
        if isinstance(res, tuple):
            res, wall, cached = res
        out = out_dir / f"seed{prm.get('seed', 'x')}_{name.replace(' ', '_').replace('+', '_')}.csv"
        write_tracks(out, res)
        r = scorer.score(str(d / "truth.csv"), str(out), t_max=(n_scans - 1) * base.dt)
        rows.append(dict(scenario=d.name, seed=prm.get("seed"), tracker=name, wall_s=wall,
                         cached=cached, ospa=r["ospa_mean"], gospa_loc=r["gospa_loc_mean"],
                         missed=r["gospa_missed_mean"], false=r["gospa_false_mean"],
                         id_switches=r["id_switches"], track_ids=r["track_ids"],
                         false_track_ids=r["false_track_ids"], rms=r["rms_pos_err_m"]))
        print(f"{d.name}: {name} {wall:.1f} s{' (cached)' if cached else ''}, OSPA "
              f"{r['ospa_mean']:.2f}, ID sw {r['id_switches']}", file=sys.stderr, flush=True)
    return prm, rows


def _tables(results: list[tuple[dict, list[dict]]]) -> tuple[Table, Table]:
    per = Table(title="Manoeuvre benchmark, per scenario (* = Stone Soup from the cache)")
    for col in ("seed", "targets (turning)", "tracker", "wall s", "OSPA m", "GOSPA loc",
                "missed", "false", "ID sw", "tracks", "false ids", "RMS m"):
        per.add_column(col, no_wrap=True)
    for prm, rows in results:
        real = prm.get("realised", {})
        who = f"{prm.get('n_targets', '?')} ({real.get('manoeuvring_targets', '?')})"
        for i, r in enumerate(rows):
            per.add_row(str(r["seed"]) if i == 0 else "", who if i == 0 else "", r["tracker"],
                        f"{r['wall_s']:.2f}{'*' if r['cached'] else ''}", f"{r['ospa']:.2f}",
                        f"{r['gospa_loc']:.1f}", f"{r['missed']:.3f}", f"{r['false']:.3f}",
                        str(r["id_switches"]), str(r["track_ids"]), str(r["false_track_ids"]),
                        f"{r['rms']:.1f}", end_section=i == len(rows) - 1)
    tot = Table(title=f"Manoeuvre benchmark, {len(results)} scenarios")
    for col in ("tracker", "mean OSPA m", "ID sw (sum)", "wall s (sum)",
                "beats SS GNN on both (scenarios)"):
        tot.add_column(col, no_wrap=True)
    names = list(dict.fromkeys(r["tracker"] for _, rows in results for r in rows))
    for name in names:
        mine = [next((r for r in rows if r["tracker"] == name), None) for _, rows in results]
        ref = [next((r for r in rows if r["tracker"] == SS_GNN), None) for _, rows in results]
        mine_ok = [r for r in mine if r is not None]
        wins = sum(1 for a, b in zip(mine, ref, strict=True) if a and b
                   and a["ospa"] < b["ospa"] and a["id_switches"] < b["id_switches"])
        n_ref = sum(1 for a, b in zip(mine, ref, strict=True) if a and b)
        tot.add_row(name, f"{np.mean([r['ospa'] for r in mine_ok]):.2f}",
                    str(sum(r["id_switches"] for r in mine_ok)),
                    f"{sum(r['wall_s'] for r in mine_ok):.1f}",
                    "-" if name == SS_GNN or not n_ref else f"{wins} / {n_ref}")
    return per, tot


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, nargs="*", default=None,
                    help="scenario folders (else generate one per seed)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[7])
    ap.add_argument("--n-targets", type=int, default=50)
    ap.add_argument("--scans", type=int, default=200)
    ap.add_argument("--clutter-rate", type=float, default=60.0)
    ap.add_argument("--trackers", nargs="+", choices=list(IADSIM), default=list(IADSIM),
                    help="iadsim trackers to run")
    ap.add_argument("--no-stonesoup", action="store_true", help="iadsim trackers only")
    ap.add_argument("--no-stonesoup-jpda", action="store_true")
    ap.add_argument("--cache", type=Path, default=Path("out/tracking_manoeuvre"),
                    help="generated scenarios and Stone Soup results are kept here")
    ap.add_argument("--no-cache", action="store_true", help="always rerun Stone Soup")
    ap.add_argument("--scorer", type=Path, default=SHARED / "score.py")
    ap.add_argument("--keep", type=Path, default=None, help="write tracks files here")
    ap.add_argument("--json", type=Path, default=None, help="write the result rows here")
    args = ap.parse_args()
    scorer = _load_scorer(args.scorer)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.keep or Path(tmp) / "tracks"
        out_dir.mkdir(parents=True, exist_ok=True)
        if args.dir:
            dirs = [_materialise(s, Path(tmp) / f"scenario{i}_{s.name}")
                    for i, s in enumerate(args.dir)]
        else:
            root = Path(tmp) / "scenarios" if args.no_cache else args.cache / "scenarios"
            dirs = [_scenario(s, args, root) for s in args.seeds]
        for d in dirs:
            results.append(run_scenario(d, args, scorer, out_dir))
    console = Console(width=max(Console().width, 140))
    per, tot = _tables(results)
    console.print(per)
    console.print(tot)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([r for _, rows in results for r in rows], indent=1))


if __name__ == "__main__":
    main()
