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
import datetime
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
    from stonesoup.dataassociator.neighbour import GNNWith2DAssignment
    from stonesoup.dataassociator.probability import JPDAwithEHM
    from stonesoup.deleter.error import CovarianceBasedDeleter
    from stonesoup.deleter.multi import CompositeDeleter
    from stonesoup.deleter.time import UpdateTimeStepsDeleter
    from stonesoup.hypothesiser.distance import DistanceHypothesiser
    from stonesoup.hypothesiser.probability import PDAHypothesiser
    from stonesoup.initiator.simple import MultiMeasurementInitiator
    from stonesoup.measures import Mahalanobis
    from stonesoup.models.measurement.linear import LinearGaussian
    from stonesoup.models.transition.linear import (
        CombinedLinearGaussianTransitionModel,
        ConstantVelocity,
    )
    from stonesoup.predictor.kalman import KalmanPredictor
    from stonesoup.tracker.simple import MultiTargetMixtureTracker
    from stonesoup.types.detection import Detection
    from stonesoup.types.state import GaussianState
    from stonesoup.updater.kalman import KalmanUpdater

    cv = ConstantVelocity(p.accel_psd)
    transition = CombinedLinearGaussianTransitionModel([cv, cv])
    meas = LinearGaussian(ndim_state=4, mapping=(0, 2), noise_covar=np.eye(2) * p.sigma**2)
    predictor, updater = KalmanPredictor(transition), KalmanUpdater(meas)
    jpda = JPDAwithEHM(PDAHypothesiser(predictor, updater, clutter_spatial_density=clutter_density,
                                       prob_detect=pd, prob_gate=p.gate_prob))
    gnn = GNNWith2DAssignment(DistanceHypothesiser(
        predictor, updater, measure=Mahalanobis(), missed_distance=p.gate))

    def deleter(misses: int) -> CompositeDeleter:
        return CompositeDeleter([UpdateTimeStepsDeleter(misses),
                                 CovarianceBasedDeleter(2 * p.max_pos_sigma_m**2, mapping=[0, 2])],
                                intersect=False)

    v2 = p.init_speed_sigma**2
    initiator = MultiMeasurementInitiator(
        prior_state=GaussianState(np.zeros((4, 1)), np.diag([0.0, v2, 0.0, v2])),
        measurement_model=meas, deleter=deleter(p.holding_misses), data_associator=gnn,
        updater=updater, min_points=p.min_points)
    t0 = datetime.datetime(2000, 1, 1)
    k = scan_index(times, p.dt)
    starts = np.searchsorted(k, np.arange(n_scans + 1))
    scans = [(t0 + datetime.timedelta(seconds=s * p.dt),
              {Detection(np.array([[x], [y]]), timestamp=t0 + datetime.timedelta(seconds=s * p.dt),
                         measurement_model=meas) for x, y in xy[starts[s]:starts[s + 1]]})
             for s in range(n_scans)]
    tracker = MultiTargetMixtureTracker(initiator=initiator, deleter=deleter(p.delete_misses),
                                        detector=scans, data_associator=jpda, updater=updater)
    ids: dict[str, int] = {}
    rows = []
    for s, (_time, tracks) in enumerate(tracker):
        for tr in tracks:
            sv = np.asarray(tr.state.state_vector, float).ravel()
            rows.append((s * p.dt, ids.setdefault(tr.id, len(ids)), sv[0], sv[2], sv[1], sv[3]))
    table = np.array(rows, float).reshape(-1, 6)
    return table[np.lexsort((table[:, 1], table[:, 0]))]


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
