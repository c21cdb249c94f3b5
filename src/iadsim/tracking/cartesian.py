"""2-D Cartesian global-nearest-neighbour (GNN) tracker over arrays (benchmark format).

Built on the kernel the simulator's track phase uses too (:mod:`iadsim.tracking.core`:
CWNA model, gating, GNN, Kalman update) with ``d = 2`` and a fixed ``R = sigma^2 I2``; this
module adds the benchmark's track management (Stone Soup's initiator and deleters).

Model (all per axis, state ``x = (x, y, vx, vy)`` [m, m, m/s, m/s]):

- **Dynamics**: nearly constant velocity, continuous white-noise acceleration (CWNA) with power
  spectral density ``q`` [m^2/s^3] (Bar-Shalom, Li & Kirubarajan, *Estimation with Applications
  to Tracking and Navigation*, 2001, sec. 6.2.2, eq. 6.2.2-12):
  ``F = [[1, dt], [0, 1]]``, ``Q = q [[dt^3/3, dt^2/2], [dt^2/2, dt]]``. This is Stone Soup's
  ``ConstantVelocity(noise_diff_coeff=q)``.
- **Measurement**: ``z = H x + w``, ``H`` picks the position, ``w ~ N(0, sigma^2 I2)``.
- **Filter**: Kalman predict and update (Bar-Shalom et al. sec. 5.2.3), covariance update
  ``P - K S K^T`` as Stone Soup's ``KalmanUpdater``.
- **Gate**: Mahalanobis distance ``d = sqrt(nu^T S^-1 nu) < g`` with ``g^2`` the chi-square
  quantile of ``gate_prob`` with 2 degrees of freedom (Blackman & Popoli, *Design and Analysis of
  Modern Tracking Systems*, 1999, sec. 6.3.2).
- **GNN** (Blackman & Popoli sec. 6.4): each track takes at most one detection and each detection
  at most one track, minimising ``sum d`` over assigned pairs ``+ g`` per track left without a
  detection. This is exactly the cost of Stone Soup's ``GNNWith2DAssignment`` over a
  ``DistanceHypothesiser(measure=Mahalanobis(), missed_distance=g)``: a ``[tracks, detections +
  tracks]`` matrix with ``g`` on the diagonal of the missed block. The problem separates over
  the connected components of the gate graph (``scipy.sparse.csgraph.connected_components``):
  components with a single track or a single detection are solved in one vectorised pass (the
  nearest pair wins, as every in-gate ``d < g``), and all the others together as one sparse
  problem (``min_weight_full_bipartite_matching``). Candidate pairs come from ``cKDTree``
  range queries when the problem is large, so no dense tracks x detections matrix is built and
  there is no Python loop over tracks or components.
- **Initiation** (Stone Soup's ``MultiMeasurementInitiator``): every detection not used by a
  confirmed track is offered to the tentative (holding) tracks by the same GNN; detections
  still unused start a tentative track by one-point initiation ``x = (z, 0, 0)``,
  ``P = diag(sigma^2, sigma^2, v0^2, v0^2)`` (Blackman & Popoli sec. 3.2). A tentative track with
  ``min_points`` updates (the initiating detection counts) is confirmed and gets the next integer
  id (ids are never reused).
- **Deletion** (Stone Soup's ``UpdateTimeStepsDeleter`` or ``CovarianceBasedDeleter``):
  a confirmed track after ``delete_misses`` consecutive scans without an update, a tentative one
  after ``holding_misses``; either when the trace of its position covariance exceeds
  ``2 max_pos_sigma_m^2``.

The scan order is Stone Soup's ``MultiTargetTracker.__next__``: associate and update confirmed
tracks, delete confirmed tracks, then the initiator (associate tentative tracks with the
remaining detections, confirm, delete tentative tracks, start new ones). Every track is
propagated to every scan (a missed scan keeps the prediction), so the reported estimate is the
on-line filtered one, or the prediction when the scan had no detection for it.

Deterministic: no random numbers; detection order breaks exact ties only.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from iadsim.tracking import core

_I64 = np.int64
TRACK_COLUMNS = ("time_s", "track_id", "x", "y", "vx", "vy")


@functools.lru_cache(maxsize=64)
def _gate(prob: float) -> float:
    return math.sqrt(float(chi2.ppf(prob, 2)))


@dataclass(frozen=True, slots=True)
class CartesianParams:
    """Tracker settings (SI). Sensor values come from params.json; the rest are choices."""

    dt: float  # s, scan period
    sigma: float  # m, measurement noise std per axis
    # m^2/s^3, CWNA process noise q. Bar-Shalom et al. sec. 6.2.2: sqrt(q dt) ~ 0.5 to 1 x the
    # largest acceleration (4 g turns here, ~39 m/s^2) gives q ~ 400 to 1500; 400 is the low end.
    accel_psd: float = 400.0
    gate_prob: float = 0.99  # probability mass inside the Mahalanobis gate (2 dof)
    init_speed_sigma: float = 350.0  # m/s, std of each velocity component of a new track
    min_points: int = 3  # updates (incl. the initiating one) to confirm a tentative track
    holding_misses: int = 2  # consecutive misses that delete a tentative track
    delete_misses: int = 3  # consecutive misses that delete a confirmed track
    max_pos_sigma_m: float = 1000.0  # delete when trace(P_pos) > 2 * this^2

    def __post_init__(self) -> None:
        checks = {
            "dt": self.dt > 0, "sigma": self.sigma > 0, "accel_psd": self.accel_psd >= 0,
            "gate_prob": 0 < self.gate_prob < 1, "init_speed_sigma": self.init_speed_sigma > 0,
            "min_points": self.min_points >= 1, "holding_misses": self.holding_misses >= 1,
            "delete_misses": self.delete_misses >= 1, "max_pos_sigma_m": self.max_pos_sigma_m > 0,
        }
        bad = [k for k, ok in checks.items() if not ok or not math.isfinite(getattr(self, k))]
        if bad:
            raise ValueError(f"invalid tracker settings: {', '.join(bad)}")

    @property
    def gate(self) -> float:
        """Mahalanobis distance threshold ``g`` (not squared)."""
        return _gate(self.gate_prob)


@dataclass(frozen=True, slots=True)
class Tracks2D:
    """A table of tracks, all at the same time (struct of arrays, K rows)."""

    x: np.ndarray  # [K, 4] (x, y, vx, vy) m, m/s
    P: np.ndarray  # [K, 4, 4] covariance
    hits: np.ndarray  # [K] int, updates so far (the initiating detection counts)
    misses: np.ndarray  # [K] int, consecutive scans without an update
    ids: np.ndarray  # [K] int, track id (-1 while tentative)

    @staticmethod
    def empty() -> Tracks2D:
        return Tracks2D(np.zeros((0, 4)), np.zeros((0, 4, 4)), np.zeros(0, _I64),
                        np.zeros(0, _I64), np.zeros(0, _I64))

    def __len__(self) -> int:
        return self.x.shape[0]

    def take(self, idx: np.ndarray) -> Tracks2D:
        """Rows ``idx`` (int indices or a bool mask)."""
        return Tracks2D(self.x[idx], self.P[idx], self.hits[idx], self.misses[idx], self.ids[idx])

    def concat(self, other: Tracks2D) -> Tracks2D:
        return Tracks2D(*(np.concatenate([a, b]) for a, b in
                          zip((self.x, self.P, self.hits, self.misses, self.ids),
                              (other.x, other.P, other.hits, other.misses, other.ids),
                              strict=True)))


def cv_model(dt: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """``(F, Q)`` [4, 4] of the 2-D CWNA model in (x, y, vx, vy) order (Bar-Shalom 6.2.2-12)."""
    return core.cv_model(dt, q, 2)


predict = core.predict


def innovation_cov(P: np.ndarray, sigma: float) -> np.ndarray:
    """``S = H P H^T + sigma^2 I`` [K, 2, 2]."""
    return P[:, :2, :2] + np.eye(2) * sigma**2


def gate_pairs(pos: np.ndarray, S: np.ndarray, z: np.ndarray, gate: float):
    """In-gate pairs ``(rows, cols, d)``, sorted by track then detection, ``d < gate``.

    ``pos [K, 2]`` predicted positions, ``S [K, 2, 2]`` innovation covariances, ``z [M, 2]``;
    ``d`` is the Mahalanobis distance (not squared). :func:`iadsim.tracking.core.gate_pairs`.
    """
    rows, cols, d2, _ = core.gate_pairs(pos, S, z, gate * gate)
    return rows, cols, np.sqrt(d2)


def gnn(n_tracks: int, n_dets: int, rows, cols, d, miss_cost: float) -> np.ndarray:
    """Detection assigned to each track (``[n_tracks]`` int, -1 for none): GNN with a cost
    ``miss_cost`` per track left without a detection (:func:`iadsim.tracking.core.gnn`)."""
    return core.gnn(n_tracks, n_dets, rows, cols, d, miss_cost)


def update(x, P, z, sigma: float):
    """Kalman update of rows ``x [K, 4]``, ``P [K, 4, 4]`` with ``z [K, 2]`` (Bar-Shalom 5.2.3),
    standard form ``P - K S K^T`` as Stone Soup's ``KalmanUpdater``."""
    return core.kalman_update(x, P, z, np.eye(2) * sigma**2)


def _associate_update(
    tr: Tracks2D, z: np.ndarray, p: CartesianParams
) -> tuple[Tracks2D, np.ndarray]:
    """GNN-associate predicted tracks with ``z``, update; returns (tracks, assigned det or -1)."""
    S = innovation_cov(tr.P, p.sigma)
    rows, cols, d = gate_pairs(tr.x[:, :2], S, z, p.gate)
    a = gnn(len(tr), z.shape[0], rows, cols, d, p.gate)
    hit = a >= 0
    x, P = tr.x.copy(), tr.P.copy()
    if hit.any():
        x[hit], P[hit] = update(x[hit], P[hit], z[a[hit]], p.sigma)
    hits = tr.hits + hit
    misses = np.where(hit, 0, tr.misses + 1)
    return Tracks2D(x, P, hits, misses, tr.ids), a


def _doomed(tr: Tracks2D, max_misses: int, p: CartesianParams) -> np.ndarray:
    """Deletion mask: ``misses >= max_misses`` or ``trace(P_pos) > 2 max_pos_sigma_m^2``."""
    trace = tr.P[:, 0, 0] + tr.P[:, 1, 1]
    return (tr.misses >= max_misses) | (trace > 2.0 * p.max_pos_sigma_m**2)


def initiate(z: np.ndarray, p: CartesianParams) -> Tracks2D:
    """One-point initiation of tentative tracks, one per row of ``z [M, 2]``."""
    m = z.shape[0]
    x = np.zeros((m, 4))
    x[:, :2] = z
    P = np.zeros((m, 4, 4))
    P[:, 0, 0] = P[:, 1, 1] = p.sigma**2
    P[:, 2, 2] = P[:, 3, 3] = p.init_speed_sigma**2
    return Tracks2D(x, P, np.ones(m, _I64), np.zeros(m, _I64), np.full(m, -1, _I64))


def step(confirmed: Tracks2D, tentative: Tracks2D, z: np.ndarray, dt: float, next_id: int,
         p: CartesianParams) -> tuple[Tracks2D, Tracks2D, int]:
    """One scan: ``(confirmed, tentative, next_id)`` at the previous scan -> at this scan.

    ``z [M, 2]`` detections of the scan, ``dt`` the time since the previous scan. The returned
    ``confirmed`` table is what the tracker reports for this scan.
    """
    F, Q = cv_model(dt, p.accel_psd)
    conf = Tracks2D(*predict(confirmed.x, confirmed.P, F, Q), confirmed.hits, confirmed.misses,
                    confirmed.ids)
    conf, used = _associate_update(conf, z, p)
    conf = conf.take(~_doomed(conf, p.delete_misses, p))
    free = np.ones(z.shape[0], bool)
    free[used[used >= 0]] = False
    z_left = z[free]

    hold = Tracks2D(*predict(tentative.x, tentative.P, F, Q), tentative.hits, tentative.misses,
                    tentative.ids)
    hold, used = _associate_update(hold, z_left, p)
    sure = hold.hits >= p.min_points
    new = hold.take(sure)
    ids = np.arange(next_id, next_id + len(new), dtype=_I64)
    conf = conf.concat(Tracks2D(new.x, new.P, new.hits, new.misses, ids))
    hold = hold.take(~sure)
    hold = hold.take(~_doomed(hold, p.holding_misses, p))
    free = np.ones(z_left.shape[0], bool)
    free[used[used >= 0]] = False
    hold = hold.concat(initiate(z_left[free], p))
    return conf, hold, next_id + len(new)


def scan_index(times: np.ndarray, dt: float) -> np.ndarray:
    """Scan number ``k = round(t / dt)`` of each detection time."""
    return np.rint(np.asarray(times, float) / dt).astype(_I64)


def run_tracker(times: np.ndarray, xy: np.ndarray, params: CartesianParams,
                n_scans: int | None = None) -> np.ndarray:
    """Track a whole detection list; returns the confirmed-track table ``[R, 6]``.

    ``times [M]`` s (non-decreasing, on the grid ``k dt``), ``xy [M, 2]`` m. Scans run over
    ``k = 0 .. n_scans - 1`` (default: up to the last detection), empty scans included.
    Columns are :data:`TRACK_COLUMNS`; rows by scan, then track id.
    """
    k = scan_index(times, params.dt)
    xy = np.asarray(xy, float).reshape(-1, 2)
    if n_scans is None:
        n_scans = int(k[-1]) + 1 if k.size else 0
    starts = np.searchsorted(k, np.arange(n_scans + 1), side="left")
    conf, hold, next_id = Tracks2D.empty(), Tracks2D.empty(), 0
    out = []
    for s in range(n_scans):
        conf, hold, next_id = step(conf, hold, xy[starts[s]:starts[s + 1]], params.dt,
                                   next_id, params)
        order = np.argsort(conf.ids, kind="stable")
        rows = np.empty((len(conf), 6))
        rows[:, 0] = s * params.dt
        rows[:, 1] = conf.ids[order]
        rows[:, 2:] = conf.x[order]
        out.append(rows)
    return np.concatenate(out) if out else np.zeros((0, 6))
