"""The tracker kernel shared by ``iadsim track`` and the simulator's track phase.

Both trackers are built from these functions, batched over all tracks at once and generic in
the dimension ``d`` of the position (2 for the benchmark format, 3 in the simulator). The state
is ``(position [d], velocity [d])``, the measurement is a position ``z = H x + w`` with
``H = [I_d 0]`` and ``w ~ N(0, R)``: a fixed ``R`` (the benchmark's ``sigma^2 I2``) or one per
plot (the simulator's converted range/azimuth/elevation plots, ``kalman.convert_measurements``).

- :func:`cv_model`: nearly constant velocity, continuous white-noise acceleration with power
  spectral density ``q`` [m^2/s^3] (Bar-Shalom, Li & Kirubarajan, *Estimation with
  Applications to Tracking and Navigation*, 2001, sec. 6.2.2, eq. 6.2.2-12), per axis
  ``F = [[1, dt], [0, 1]]``, ``Q = q [[dt^3/3, dt^2/2], [dt^2/2, dt]]``.
- :func:`gate_pairs`: the in-gate track-plot pairs and their normalised distances
  ``d2 = nu^T S^-1 nu`` with ``S = H P H^T + R`` (Blackman & Popoli, *Design and Analysis of
  Modern Tracking Systems*, 1999, sec. 6.3.2), without a dense tracks x plots matrix when the
  problem is large (a ``cKDTree`` over the plots).
- :func:`gnn`: global nearest neighbour (Blackman & Popoli sec. 6.4), one plot per track and
  one track per plot, separated over the connected components of the gate graph and solved by
  a sparse assignment; either with a cost per missed track (Stone Soup's
  ``GNNWith2DAssignment``) or "most pairs, then least cost".
- :func:`kalman_update`: the Kalman update, in the standard form ``P - K S K^T`` (as Stone
  Soup's ``KalmanUpdater``) or the Joseph form (Bar-Shalom eq. 5.2.3-18), symmetrised.

What differs between the two trackers is only track management: the benchmark tracker runs
one sensor whose every scan covers every track (Stone Soup's initiator and deleters); the
simulator fuses several radars, each of which counts a miss only for the tracks inside its
coverage, confirms by M-of-N and handles out-of-sequence scans (``tracker``, ``stages``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching
from scipy.spatial import cKDTree

try:  # the gufunc behind np.linalg.solve (see _solve)
    from numpy.linalg._umath_linalg import solve as _gufunc_solve
except ImportError:  # pragma: no cover - other NumPy layouts
    _gufunc_solve = None

_I64 = np.int64
DENSE_PAIRS = 16384  # up to this many track x plot pairs, all pairs are screened directly
DENSE_GNN = 50000  # up to this many entries, GNN is one dense linear_sum_assignment
_SCREEN = 1.0 + 1e-6  # relative safety margin of the per-axis screen (covers rounding)
_SCALAR_PAIRS = 8  # up to this many screened pairs, plain Python floats beat NumPy calls
_EMPTY_I = np.zeros(0, _I64)
_EMPTY_F = np.zeros(0)


def cv_model(dt: float, q: float, dim: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``(F, Q)`` ``[2 dim, 2 dim]`` of the CWNA model, state (positions, velocities)."""
    n = 2 * dim
    i = np.arange(dim)
    F = np.eye(n)
    F[i, i + dim] = dt
    Q = np.zeros((n, n))
    Q[i, i] = q * dt**3 / 3.0
    Q[i, i + dim] = Q[i + dim, i] = q * dt**2 / 2.0
    Q[i + dim, i + dim] = q * dt
    return F, Q


def predict(x: np.ndarray, P: np.ndarray, F: np.ndarray, Q: np.ndarray):
    """Kalman prediction of all tracks: ``x [K, n]``, ``P [K, n, n]`` -> same shapes."""
    return x @ F.T, F @ P @ F.T + Q


def _max_eigenvalue_bound(M: np.ndarray) -> np.ndarray:
    """An upper bound of the largest eigenvalue of each symmetric PSD ``M [K, d, d]``: exact
    (closed form) for d = 2, else the smaller of the trace and the largest Gershgorin row sum
    (both bound ``lambda_max`` of a PSD matrix)."""
    if M.shape[-1] == 2:
        a, b, c = M[:, 0, 0], M[:, 0, 1], M[:, 1, 1]
        return 0.5 * (a + c) + np.sqrt(0.25 * (a - c) ** 2 + b * b)
    return np.minimum(np.einsum("kii->k", M), np.abs(M).sum(axis=2).max(axis=1))


def mahalanobis(S: np.ndarray, nu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(d2, det S)`` per row: ``d2 = nu^T S^-1 nu`` for ``S [P, d, d]``, ``nu [P, d]``.

    Closed forms (adjugate over determinant) for d = 2 and 3, LU otherwise.
    """
    d = S.shape[-1]
    if d == 2:
        a, b, c = S[:, 0, 0], S[:, 0, 1], S[:, 1, 1]
        det = a * c - b * b
        n0, n1 = nu[:, 0], nu[:, 1]
        return (c * n0**2 - 2 * b * n0 * n1 + a * n1**2) / det, det
    if d == 3:
        return _quad3(S[:, 0, 0], S[:, 0, 1], S[:, 0, 2], S[:, 1, 1], S[:, 1, 2], S[:, 2, 2],
                      nu[:, 0], nu[:, 1], nu[:, 2])
    sign, logdet = np.linalg.slogdet(S)
    d2 = np.einsum("pi,pi->p", nu, np.linalg.solve(S, nu[..., None])[..., 0])
    return d2, sign * np.exp(logdet)


def _quad3(s00, s01, s02, s11, s12, s22, n0, n1, n2):
    """``(nu^T S^-1 nu, det S)`` of a symmetric 3x3 ``S`` by its cofactors; arrays or floats
    alike (plain arithmetic)."""
    c00 = s11 * s22 - s12 * s12
    c01 = s02 * s12 - s01 * s22
    c02 = s01 * s12 - s02 * s11
    c11 = s00 * s22 - s02 * s02
    c12 = s01 * s02 - s00 * s12
    c22 = s00 * s11 - s01 * s01
    det = s00 * c00 + s01 * c01 + s02 * c02
    quad = (n0 * (c00 * n0 + c01 * n1 + c02 * n2) + n1 * (c01 * n0 + c11 * n1 + c12 * n2)
            + n2 * (c02 * n0 + c12 * n1 + c22 * n2))
    return quad / det, det


def gate_pairs(pos: np.ndarray, pos_cov: np.ndarray, z: np.ndarray, gate2: float,
               R: np.ndarray | None = None):
    """In-gate pairs ``(rows, cols, d2, det)`` sorted by track then plot, ``d2 < gate2``.

    ``pos [K, d]`` predicted positions ``H x``, ``pos_cov [K, d, d]`` their covariances
    ``H P H^T`` (or the whole innovation covariance when ``R`` is None), ``z [M, d]`` plots,
    ``R`` their noise: None, ``[d, d]`` for all, or ``[M, d, d]`` per plot. ``d2`` is the
    squared Mahalanobis distance with ``S = pos_cov + R``, ``det`` is ``det S``.

    Candidates: every pair when ``K M <= DENSE_PAIRS``; otherwise a ``cKDTree`` over the plots,
    with the tracks grouped by gate radius ``sqrt(gate2 (lambda_max(pos_cov) + lambda_max(R)))``
    (a circle or sphere that holds every gate ellipsoid of the track) in factor-2 bands, each
    band taking every plot within its largest radius from one ``sparse_distance_matrix`` call
    (no Python loop over tracks). Candidates are screened per axis first (Cauchy-Schwarz:
    ``nu_i^2 <= S_ii d2``), so only the pairs that can be in the gate get ``S^-1``.
    """
    n, m = pos.shape[0], z.shape[0]
    if n == 0 or m == 0:
        return _EMPTY_I, _EMPTY_I, _EMPTY_F, _EMPTY_F
    d = pos.shape[1]
    per_plot = R is not None and R.ndim == 3
    scale = gate2 * _SCREEN
    lim = pos_cov.reshape(n, d * d)[:, :: d + 1] * scale  # [K, d]: gate2 S_ii, track part
    r_lim = None
    if R is not None:
        r_lim = (R.reshape(m, d * d)[:, :: d + 1] if per_plot else np.diagonal(R)) * scale
    if n * m <= DENSE_PAIRS:
        nu = z.T[:, None, :] - pos.T[:, :, None]  # [d, K, M]
        bound = lim.T[:, :, None]
        if r_lim is not None:
            bound = bound + (r_lim.T[:, None, :] if per_plot else r_lim[:, None, None])
        inside = nu * nu <= bound
        rows, cols = np.logical_and.reduce(inside, axis=0).nonzero()
        nu = nu[:, rows, cols].T
    else:
        lam = _max_eigenvalue_bound(pos_cov)
        if R is not None:
            lam = lam + float(_max_eigenvalue_bound(R if per_plot else R[None]).max())
        radius = math.sqrt(gate2) * np.sqrt(lam) * (1.0 + 1e-9)
        band = np.floor(np.log2(radius / radius.min())).astype(_I64)
        ztree = cKDTree(z)
        rs, cs = [], []
        for k in np.unique(band):
            sel = np.flatnonzero(band == k)
            hit = cKDTree(pos[sel]).sparse_distance_matrix(
                ztree, float(radius[sel].max()), output_type="ndarray")
            rs.append(sel[hit["i"]])
            cs.append(hit["j"].astype(_I64))
        rows, cols = np.concatenate(rs), np.concatenate(cs)
        order = np.argsort(rows * m + cols)
        rows, cols = rows[order], cols[order]
        nu = z[cols] - pos[rows]
        bound = lim[rows] if r_lim is None else lim[rows] + (r_lim[cols] if per_plot else r_lim)
        ok = (nu * nu <= bound).all(axis=1)
        rows, cols, nu = rows[ok], cols[ok], nu[ok]
    if rows.size <= _SCALAR_PAIRS and d == 3 and per_plot:
        return _gate_few(rows, cols, nu, pos_cov, R, gate2)
    S = pos_cov[rows]
    if R is not None:
        S = S + (R[cols] if per_plot else R)
    d2, det = mahalanobis(S, nu)
    keep = (d2 < gate2) & (det > 0.0)
    return rows[keep], cols[keep], d2[keep], det[keep]


def _gate_few(rows, cols, nu, pos_cov, R, gate2):
    """The end of :func:`gate_pairs` for a few 3-D pairs with per-plot ``R``, in Python floats
    (a few dozen NumPy calls cost more than the arithmetic): :func:`_quad3` on floats."""
    keep, d2s, dets = [], [], []
    Pl, Rl = pos_cov.reshape(-1, 9)[rows].tolist(), R.reshape(-1, 9)[cols].tolist()
    for j, (p, r, (n0, n1, n2)) in enumerate(zip(Pl, Rl, nu.tolist(), strict=True)):
        d2, det = _quad3(p[0] + r[0], p[1] + r[1], p[2] + r[2], p[4] + r[4], p[5] + r[5],
                         p[8] + r[8], n0, n1, n2)
        if det > 0.0 and d2 < gate2:
            keep.append(j)
            d2s.append(d2)
            dets.append(det)
    return rows[keep], cols[keep], np.array(d2s), np.array(dets)


def gnn(n_tracks: int, n_dets: int, rows, cols, cost, miss_cost: float | None) -> np.ndarray:
    """Detection assigned to each track (``[n_tracks]`` int, -1 for none).

    ``(rows, cols, cost)`` are the admissible pairs. With a ``miss_cost``, minimises
    ``sum cost(assigned) + miss_cost * (#tracks without a detection)`` (pairs with
    ``cost >= miss_cost`` never beat a miss and are dropped): Stone Soup's
    ``GNNWith2DAssignment`` over a ``DistanceHypothesiser(missed_distance=miss_cost)``, a
    ``[tracks, detections + tracks]`` matrix with ``miss_cost`` on the diagonal of the missed
    block. With ``miss_cost=None``: the most pairs, and among those the least total cost.

    Solved by the cheapest adequate method:

    - pairs that already form a matching are all taken;
    - small problems (``k (m + k) <= DENSE_GNN`` over the ``k`` tracks and ``m`` detections
      that have a pair) are one dense ``linear_sum_assignment`` of that matrix;
    - larger ones separate over the connected components of the gate graph
      (``scipy.sparse.csgraph.connected_components``): components with one track or one
      detection are solved in a batch by a sort (the least cost pair; ties go to the first
      pair in track, detection order), and the other components together form one sparse
      ``[k, m + k]`` problem with the miss cost on the diagonal of the missed block, solved
      by ``min_weight_full_bipartite_matching`` (block diagonal, so the optimum of one
      ``linear_sum_assignment`` per component).

    Costs are shifted to be at least 1 (zero weights would not be sparse edges); one constant
    on every entry leaves the optimum unchanged as each row is matched once. "Most pairs
    first" takes ``M = k w_max + 1`` as the miss cost: one more pair always lowers the total.
    """
    out = np.full(n_tracks, -1, _I64)
    if len(rows) == 0:
        return out
    rows, cols = np.asarray(rows, _I64), np.asarray(cols, _I64)
    cost = np.asarray(cost, float)
    if miss_cost is not None:
        ok = cost < miss_cost
        rows, cols, cost = rows[ok], cols[ok], cost[ok]
        if len(rows) == 0:
            return out
    if np.bincount(rows).max() == 1 and np.bincount(cols).max() == 1:
        out[rows] = cols
        return out
    tr, r = np.unique(rows, return_inverse=True)
    de, c = np.unique(cols, return_inverse=True)
    if tr.size * (de.size + tr.size) <= DENSE_GNN:
        k = tr.size
        shift = 1.0 - min(float(cost.min()), 0.0)
        w = cost + shift
        miss = k * float(w.max()) + 1.0 if miss_cost is None else miss_cost + shift
        work = np.full((k, de.size + k), np.inf)
        work[r, c] = w
        work[np.arange(k), de.size + np.arange(k)] = miss
        ri, ci = linear_sum_assignment(work)
        hit = ci < de.size
        out[tr[ri[hit]]] = de[ci[hit]]
        return out
    graph = coo_matrix((np.ones(len(rows)), (rows, n_tracks + cols)),
                       shape=(n_tracks + n_dets,) * 2)
    n_comp, label = connected_components(graph, directed=False)
    comp = label[rows]
    n_tr = np.bincount(label[:n_tracks], minlength=n_comp)
    n_de = np.bincount(label[n_tracks:], minlength=n_comp)
    simple = ((n_tr == 1) | (n_de == 1))[comp]
    if simple.any():
        e = np.flatnonzero(simple)
        e = e[np.lexsort((cost[e], comp[e]))]
        first = np.r_[True, comp[e][1:] != comp[e][:-1]]
        out[rows[e[first]]] = cols[e[first]]
    hard = np.flatnonzero(~simple)
    if hard.size:
        tr, r = np.unique(rows[hard], return_inverse=True)
        de, c = np.unique(cols[hard], return_inverse=True)
        k, md = tr.size, de.size
        shift = 1.0 - min(float(cost[hard].min()), 0.0)
        w = cost[hard] + shift
        miss = k * float(w.max()) + 1.0 if miss_cost is None else miss_cost + shift
        data = np.concatenate([w, np.full(k, miss)])
        ri = np.concatenate([r, np.arange(k)])
        ci = np.concatenate([c, md + np.arange(k)])
        ri, ci = min_weight_full_bipartite_matching(
            csr_matrix((data, (ri, ci)), shape=(k, md + k)))
        hit = ci < md
        out[tr[ri[hit]]] = de[ci[hit]]
    return out


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.linalg.solve(a, b)`` for stacks of matrices: the same LAPACK gufunc, called directly.

    ``np.linalg.solve`` spends most of its time, for a few small systems, in argument checks
    and an error-state context. The gufunc gives the same numbers; a singular system
    (non-finite result, never the case for ``S = H P H^T + R``) goes through
    ``np.linalg.solve`` to raise its ``LinAlgError``.
    """
    if _gufunc_solve is not None:
        out = _gufunc_solve(a, b, signature="dd->d")
        if math.isfinite(out.sum()):
            return out
    return np.linalg.solve(a, b)


_EYES: dict[int, np.ndarray] = {}


def kalman_update(x: np.ndarray, P: np.ndarray, z: np.ndarray, R: np.ndarray,
                  joseph: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Kalman update of ``x [K, n]``, ``P [K, n, n]`` with positions ``z [K, d]``.

    ``R`` is ``[d, d]`` or ``[K, d, d]``; ``H = [I_d 0]``. The standard form
    ``P - K S K^T`` (Stone Soup's ``KalmanUpdater``, gain from ``S^-1``), or with ``joseph``
    the Joseph form ``(I - K H) P (I - K H)^T + K R K^T`` (gain from a solve), symmetrised:
    it keeps ``P`` symmetric positive definite in floating point.
    """
    d = z.shape[1]
    S = P[:, :d, :d] + R
    if not joseph:
        gain = P[:, :, :d] @ np.linalg.inv(S)  # [K, n, d]
        x_new = x + np.einsum("kij,kj->ki", gain, z - x[:, :d])
        return x_new, P - gain @ S @ gain.transpose(0, 2, 1)
    # K = P H^T S^-1  <=>  K^T = S^-1 (P H^T)^T  (S symmetric)
    gain = _solve(S, P[:, :, :d].transpose(0, 2, 1)).transpose(0, 2, 1)
    x_new = x + np.einsum("kij,kj->ki", gain, z - x[:, :d])
    n = x.shape[1]
    if n not in _EYES:
        _EYES[n] = np.eye(n)
    ikh = _EYES[n][None].repeat(x.shape[0], axis=0)
    ikh[:, :, :d] -= gain
    if R.ndim == 2:
        R = R[None]
    P_new = ikh @ P @ ikh.transpose(0, 2, 1) + gain @ R @ gain.transpose(0, 2, 1)
    return x_new, 0.5 * (P_new + P_new.transpose(0, 2, 1))
