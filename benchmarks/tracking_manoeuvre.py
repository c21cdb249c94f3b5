"""Manoeuvring targets in heavy clutter: iadsim GNN, IMM+JPDA vs Stone Soup GNN and JPDA.

    PYTHONPATH=src python benchmarks/tracking_manoeuvre.py [--dir DIR] [--n-targets 50]
        [--scans 200] [--clutter-rate 60] [--seed 7] [--no-stonesoup-jpda] [--keep OUT]

Without ``--dir`` a scenario is generated with ``benchmarks/make_tracking_scenario.py``
(FORMAT.md dynamics: 30 % of targets make 1-2 coordinated turns of 1-4 g; Pd 0.9, sigma 50 m,
``clutter_rate`` false alarms per scan). Trackers, all on the same detections:

- ``iadsim GNN``: :func:`iadsim.tracking.cartesian.run_tracker` (CV, q = 400 m^2/s^3);
- ``iadsim IMM+JPDA``: :func:`iadsim.tracking.cartesian_advanced.run_tracker_advanced`
  (CV + CT IMM, JPDA with Pd and clutter density from params.json);
- ``iadsim CV+JPDA``: the same with the CV model only (the GNN tracker's model, JPDA);
- ``Stone Soup GNN``: ``benchmarks/tracking_vs_stonesoup.run_stonesoup`` (MultiTargetTracker,
  GNNWith2DAssignment, MultiMeasurementInitiator; the iadsim GNN's model and settings);
- ``Stone Soup JPDA``: ``MultiTargetMixtureTracker`` with ``JPDAwithEHM`` (exact JPDA
  marginals, Maskell et al. 2004; plain ``JPDA`` enumerates the product over all tracks and
  does not finish at this size) over ``PDAHypothesiser(Pd, clutter density, prob_gate)``,
  the same CV Kalman predictor/updater, initiator and deleters as Stone Soup GNN.

Every output is scored with ``/work/shared/tracking/score.py`` (p = 1, c = 500 m).
"""

from __future__ import annotations

import argparse
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


def run_stonesoup_jpda(times, xy, p: CartesianParams, n_scans: int, pd: float,
                       clutter_density: float) -> np.ndarray:
    """Stone Soup JPDA (EHM) tracker with the CV model of ``p``; table as ``run_tracker``."""
    return run_stonesoup(times, xy, p, n_scans, jpda=(pd, clutter_density))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=None, help="scenario folder (else generate)")
    ap.add_argument("--n-targets", type=int, default=50)
    ap.add_argument("--scans", type=int, default=200)
    ap.add_argument("--clutter-rate", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-stonesoup", action="store_true", help="iadsim trackers only")
    ap.add_argument("--no-stonesoup-jpda", action="store_true")
    ap.add_argument("--scorer", type=Path, default=SHARED / "score.py")
    ap.add_argument("--keep", type=Path, default=None, help="write tracks files here")
    args = ap.parse_args()
    scorer = _load_scorer(args.scorer)
    with tempfile.TemporaryDirectory() as tmp:
        if args.dir is None:
            d = Path(tmp) / "scenario"
            subprocess.run([sys.executable, str(HERE / "make_tracking_scenario.py"), "--out",
                            str(d), "--seed", str(args.seed), "--n-targets", str(args.n_targets),
                            "--scans", str(args.scans), "--clutter-rate",
                            str(args.clutter_rate)], check=True)
        else:
            d = _materialise(args.dir, Path(tmp) / args.dir.name)
        prm = read_params(d / "params.json")
        times, xy = read_detections(d / "detections.csv")
        n_scans = int(prm.get("scans", scan_index(times, prm["dt"])[-1] + 1))
        adv = AdvancedParams.from_params_json(prm)
        base = adv.base
        runs = {
            "iadsim GNN": lambda: run_tracker(times, xy, base, n_scans),
            "iadsim IMM+JPDA": lambda: run_tracker_advanced(times, xy, adv, "imm", "jpda",
                                                            n_scans),
            "iadsim CV+JPDA": lambda: run_tracker_advanced(times, xy, adv, "cv", "jpda",
                                                           n_scans),
            "iadsim IMM+GNN": lambda: run_tracker_advanced(times, xy, adv, "imm", "gnn",
                                                           n_scans),
        }
        if not args.no_stonesoup:
            runs["Stone Soup GNN"] = lambda: run_stonesoup(times, xy, base, n_scans)
            if not args.no_stonesoup_jpda:
                runs["Stone Soup JPDA"] = lambda: run_stonesoup_jpda(
                    times, xy, base, n_scans, adv.pd, adv.clutter_density)
        real = prm.get("realised", {})
        title = (f"Manoeuvre benchmark: {prm.get('n_targets', '?')} targets "
                 f"({real.get('manoeuvring_targets', '?')} turning), {n_scans} scans, "
                 f"{prm.get('clutter_rate', '?')} false alarms/scan, seed {prm.get('seed', '?')}")
        table = Table(title=title)
        for col in ("tracker", "wall s", "OSPA m", "GOSPA loc", "missed", "false", "ID sw",
                    "tracks", "false ids", "RMS m"):
            table.add_column(col, no_wrap=True)
        for name, fn in runs.items():
            t0 = time.perf_counter()
            tab = fn()
            wall = time.perf_counter() - t0
            out = (args.keep or Path(tmp)) / (name.replace(" ", "_").replace("+", "_") + ".csv")
            out.parent.mkdir(parents=True, exist_ok=True)
            write_tracks(out, tab)
            r = scorer.score(str(d / "truth.csv"), str(out), t_max=(n_scans - 1) * base.dt)
            table.add_row(name, f"{wall:.2f}", f"{r['ospa_mean']:.2f}",
                          f"{r['gospa_loc_mean']:.1f}", f"{r['gospa_missed_mean']:.3f}",
                          f"{r['gospa_false_mean']:.3f}", str(r["id_switches"]),
                          str(r["track_ids"]), str(r["false_track_ids"]),
                          f"{r['rms_pos_err_m']:.1f}")
            print(f"done {name} in {wall:.1f} s", file=sys.stderr, flush=True)
    Console(width=max(Console().width, 140)).print(table)


if __name__ == "__main__":
    main()
