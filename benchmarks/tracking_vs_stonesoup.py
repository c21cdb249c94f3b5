"""iadsim's array GNN tracker against Stone Soup's, same model, same detections, same scorer.

    PYTHONPATH=src python benchmarks/tracking_vs_stonesoup.py [DIR ...] [--scans N]
        [--ss-cache DIR]

DIR is a scenario folder (FORMAT.md: detections.csv, truth.csv, params.json, optionally
gzipped); default /work/shared/tracking/example, decompressed to a temporary folder. Stone Soup
(``pip install stonesoup``, a benchmark extra, never a runtime dependency) is assembled as:

- ``KalmanPredictor(CombinedLinearGaussianTransitionModel([ConstantVelocity(q)] * 2))``,
  ``KalmanUpdater(LinearGaussian(mapping=(0, 2), noise_covar=sigma^2 I2))``;
- ``GNNWith2DAssignment(DistanceHypothesiser(measure=Mahalanobis(), missed_distance=g))``;
- ``MultiMeasurementInitiator(prior = N(0, diag(0, v0^2, 0, v0^2)), min_points, deleter =
  CompositeDeleter([UpdateTimeStepsDeleter(holding_misses), CovarianceBasedDeleter]))``;
- ``MultiTargetTracker(deleter = CompositeDeleter([UpdateTimeStepsDeleter(delete_misses),
  CovarianceBasedDeleter(2 max_pos_sigma_m^2, mapping=(0, 2))], intersect=False))``;

with the numbers of ``CartesianParams`` (q, g, v0, ...). Both trackers see every scan of the
grid ``k dt``, empty ones included. Both outputs are scored with the shared ``score.py`` and
compared row by row: per scan the two sets of confirmed positions are paired by least distance,
the pairs give the id renumbering, and the table reports how many tracks map one-to-one and the
largest position difference of paired rows.

Stone Soup is slow at scale (minutes for 400 targets); ``--ss-cache DIR`` stores its track table
and wall time keyed by the SHA-1 of the detections used and the tracker settings, and a later
run with the same key reuses them (the table then marks the Stone Soup row "cached").
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import hashlib
import importlib.util
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from iadsim.tracking.cartesian import CartesianParams, run_tracker, scan_index
from iadsim.tracking.io import read_detections, read_params, write_tracks

SHARED = Path("/work/shared/tracking")


def _load_scorer(path: Path):
    spec = importlib.util.spec_from_file_location("shared_score", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _materialise(src: Path, dst: Path) -> Path:
    """Copy a scenario folder into ``dst`` with plain (un-gzipped) files."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("detections.csv", "truth.csv", "params.json"):
        if (src / name).exists():
            shutil.copy(src / name, dst / name)
        elif (src / f"{name}.gz").exists():
            with gzip.open(src / f"{name}.gz", "rb") as f, open(dst / name, "wb") as g:
                shutil.copyfileobj(f, g)
        else:
            raise SystemExit(f"{src}: no {name}(.gz)")
    return dst


def run_stonesoup(times, xy, p: CartesianParams, n_scans: int,
                  jpda: tuple[float, float] | None = None) -> np.ndarray:
    """Stone Soup's MultiTargetTracker with the same model; table as ``run_tracker``.

    ``jpda=(pd, clutter_density)``: track with Stone Soup's JPDA (``JPDAwithEHM`` over a
    ``PDAHypothesiser``, ``MultiTargetMixtureTracker``) instead of GNN; the initiator and
    deleters are the same.
    """
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
    from stonesoup.tracker.simple import MultiTargetMixtureTracker, MultiTargetTracker
    from stonesoup.types.detection import Detection
    from stonesoup.types.state import GaussianState
    from stonesoup.updater.kalman import KalmanUpdater

    cv = ConstantVelocity(p.accel_psd)
    transition = CombinedLinearGaussianTransitionModel([cv, cv])
    meas = LinearGaussian(ndim_state=4, mapping=(0, 2), noise_covar=np.eye(2) * p.sigma**2)
    predictor, updater = KalmanPredictor(transition), KalmanUpdater(meas)
    associator = GNNWith2DAssignment(DistanceHypothesiser(
        predictor, updater, measure=Mahalanobis(), missed_distance=p.gate))

    def deleter(misses: int) -> CompositeDeleter:
        return CompositeDeleter([UpdateTimeStepsDeleter(misses),
                                 CovarianceBasedDeleter(2 * p.max_pos_sigma_m**2, mapping=[0, 2])],
                                intersect=False)

    v2 = p.init_speed_sigma**2
    initiator = MultiMeasurementInitiator(
        prior_state=GaussianState(np.zeros((4, 1)), np.diag([0.0, v2, 0.0, v2])),
        measurement_model=meas, deleter=deleter(p.holding_misses), data_associator=associator,
        updater=updater, min_points=p.min_points)
    t0 = datetime.datetime(2000, 1, 1)
    k = scan_index(times, p.dt)
    starts = np.searchsorted(k, np.arange(n_scans + 1))
    scans = [(t0 + datetime.timedelta(seconds=s * p.dt),
              {Detection(np.array([[x], [y]]), timestamp=t0 + datetime.timedelta(seconds=s * p.dt),
                         measurement_model=meas) for x, y in xy[starts[s]:starts[s + 1]]})
             for s in range(n_scans)]
    if jpda is None:
        tracker = MultiTargetTracker(initiator=initiator, deleter=deleter(p.delete_misses),
                                     detector=scans, data_associator=associator, updater=updater)
    else:
        mixture = JPDAwithEHM(PDAHypothesiser(predictor, updater,
                                              clutter_spatial_density=jpda[1],
                                              prob_detect=jpda[0], prob_gate=p.gate_prob))
        tracker = MultiTargetMixtureTracker(initiator=initiator,
                                            deleter=deleter(p.delete_misses), detector=scans,
                                            data_associator=mixture, updater=updater)
    ids: dict[str, int] = {}
    rows = []
    for s, (_time, tracks) in enumerate(tracker):
        for tr in tracks:
            sv = np.asarray(tr.state.state_vector, float).ravel()
            rows.append((s * p.dt, ids.setdefault(tr.id, len(ids)), sv[0], sv[2], sv[1], sv[3]))
    table = np.array(rows, float).reshape(-1, 6)
    return table[np.lexsort((table[:, 1], table[:, 0]))]


def compare(a: np.ndarray, b: np.ndarray) -> dict:
    """Row-by-row agreement of two track tables (ids up to renumbering)."""
    pairs, dmax, unpaired = defaultdict(int), 0.0, 0
    for t in np.union1d(a[:, 0], b[:, 0]):
        ra, rb = a[a[:, 0] == t], b[b[:, 0] == t]
        unpaired += abs(len(ra) - len(rb))
        if len(ra) and len(rb):
            d = cdist(ra[:, 2:4], rb[:, 2:4])
            i, j = linear_sum_assignment(d)
            dmax = max(dmax, float(d[i, j].max()))
            for u, v in zip(ra[i, 1].astype(int), rb[j, 1].astype(int), strict=True):
                pairs[(u, v)] += 1
    ids_a, ids_b = set(a[:, 1].astype(int)), set(b[:, 1].astype(int))
    by_a, by_b = defaultdict(set), defaultdict(set)
    for u, v in pairs:
        by_a[u].add(v)
        by_b[v].add(u)
    one_to_one = sum(1 for u, vs in by_a.items() if len(vs) == 1 and len(by_b[next(iter(vs))]) == 1)
    return dict(tracks_a=len(ids_a), tracks_b=len(ids_b), one_to_one=one_to_one,
                rows_a=len(a), rows_b=len(b), unpaired_rows=unpaired, max_pos_diff_m=dmax)


def _stonesoup_cached(cache: Path | None, times, xy, p: CartesianParams, n_scans: int):
    """``(table, wall_s, cached)``: Stone Soup's run, from ``cache`` when the key matches."""
    key = hashlib.sha1(np.ascontiguousarray(np.column_stack([times, xy])).tobytes()
                       + repr((p, n_scans)).encode()).hexdigest()[:16]
    f = cache / f"stonesoup_{key}.npz" if cache else None
    if f is not None and f.exists():
        with np.load(f) as npz:
            return npz["table"], float(npz["wall"]), True
    t0 = time.perf_counter()
    tab = run_stonesoup(times, xy, p, n_scans)
    wall = time.perf_counter() - t0
    if f is not None:
        f.parent.mkdir(parents=True, exist_ok=True)
        np.savez(f, table=tab, wall=wall)
    return tab, wall, False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="*", type=Path, default=[SHARED / "example"])
    ap.add_argument("--scans", type=int, default=None, help="only the first N scans")
    ap.add_argument("--scorer", type=Path, default=SHARED / "score.py")
    ap.add_argument("--keep", type=Path, default=None, help="write tracks files here")
    ap.add_argument("--ss-cache", type=Path, default=None,
                    help="reuse/store Stone Soup's result here")
    args = ap.parse_args()
    scorer = _load_scorer(args.scorer)
    console = Console(width=max(Console().width, 160))
    table = Table(title="2-D GNN tracking: iadsim vs Stone Soup (same model, same detections)")
    for col in ("scenario", "targets", "clutter/scan", "tracker", "wall s", "scans/s", "OSPA m",
                "GOSPA loc", "missed", "false", "tracks", "ID sw", "wall ratio"):
        table.add_column(col, no_wrap=True)
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        for src in args.dirs:
            d = _materialise(src, Path(tmp) / src.name)
            prm = read_params(d / "params.json")
            times, xy = read_detections(d / "detections.csv")
            n_scans = int(prm.get("scans", scan_index(times, prm["dt"])[-1] + 1))
            if args.scans is not None:
                n_scans = min(n_scans, args.scans)
                keep = scan_index(times, prm["dt"]) < n_scans
                times, xy = times[keep], xy[keep]
            p = CartesianParams(dt=float(prm["dt"]), sigma=float(prm["sigma"]))
            t_max = (n_scans - 1) * p.dt
            results = {}
            for name in ("iadsim", "stonesoup"):
                if name == "iadsim":
                    t0 = time.perf_counter()
                    tab = run_tracker(times, xy, p, n_scans)
                    wall = time.perf_counter() - t0
                else:
                    tab, wall, cached = _stonesoup_cached(args.ss_cache, times, xy, p, n_scans)
                    name = "stonesoup (cached)" if cached else name
                out = (args.keep or Path(tmp)) / f"{src.name}_{name.split()[0]}_tracks.csv"
                out.parent.mkdir(parents=True, exist_ok=True)
                write_tracks(out, tab)
                res = scorer.score(str(d / "truth.csv"), str(out), t_max=t_max)
                results[name] = (tab, wall, res)
            base = results["iadsim"][1]
            for name, (_tab, wall, r) in results.items():
                table.add_row(src.name, str(prm.get("n_targets", "?")),
                              f"{prm.get('clutter_rate', float('nan')):g}", name,
                              f"{wall:.3f}", f"{n_scans / wall:.0f}", f"{r['ospa_mean']:.2f}",
                              f"{r['gospa_loc_mean']:.1f}", f"{r['gospa_missed_mean']:.3f}",
                              f"{r['gospa_false_mean']:.3f}", str(r["track_ids"]),
                              str(r["id_switches"]), f"{wall / base:.1f}")
            c = compare(results["iadsim"][0], results[name][0])
            notes.append(f"{src.name} ({n_scans} scans): iadsim {c['tracks_a']} tracks / "
                         f"{c['rows_a']} rows, Stone Soup {c['tracks_b']} tracks / {c['rows_b']} "
                         f"rows; {c['one_to_one']} tracks map one-to-one; unpaired rows "
                         f"{c['unpaired_rows']}; max position difference of paired rows "
                         f"{c['max_pos_diff_m']:.3g} m")
    console.print(table)
    for n in notes:
        console.print(n)


if __name__ == "__main__":
    main()
