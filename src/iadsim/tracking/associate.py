"""Gating and global-nearest-neighbour (GNN) association of plots to tracks.

Gating (Blackman & Popoli, *Design and Analysis of Modern Tracking Systems*, 1999, sec. 6.3;
Bar-Shalom, Li & Kirubarajan sec. 5.4.2): for track ``k`` with predicted position covariance
``H P_k H^T`` and converted plot ``d`` with covariance ``R_d``, the innovation ``nu = z_d - H x_k``
has covariance ``S = H P_k H^T + R_d`` and normalised distance ``d2 = nu^T S^-1 nu``, which is
chi-square with 3 degrees of freedom for the correct pair. A pair is admissible when
``d2 <= gate_chi2``.

Cost: the negative log-likelihood of the pair up to a constant,
``d2 + ln det(2 pi S)`` (Blackman & Popoli eq. 6.29, the "generalised" distance), which
penalises tracks whose large uncertainty makes any plot look close.

GNN (Blackman & Popoli sec. 6.4): one plot per track and one track per plot, chosen to give
the largest number of admissible pairs and, among those, the least total cost. Solved with the
Jonker-Volgenant/Hungarian method of ``scipy.optimize.linear_sum_assignment``.

Implementation: a pair is only evaluated when it can be in the gate. Since ``S`` is symmetric
positive definite, Cauchy-Schwarz gives ``nu_i^2 = (e_i' S^1/2 S^-1/2 nu)^2 <= S_ii d2`` for each
axis ``i``; pairs with ``nu_i^2 > gate_chi2 S_ii`` on some axis (most of them: plots of other
targets and clutter) are out of the gate without solving anything. The others get ``S^-1``
and ``det S`` in closed form (``sym3``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment

from iadsim.tracking import sym3

LOG_2PI_3 = 3.0 * math.log(2.0 * math.pi)
_SCREEN = 1.0 + 1e-6  # relative safety margin of the per-axis screen (covers rounding)
_SCALAR_PAIRS = 8  # up to this many candidate pairs, plain Python floats beat NumPy calls


def gate_pairs(
    pos: np.ndarray, pos_cov: np.ndarray, zc: np.ndarray, R: np.ndarray, gate_chi2: float
) -> tuple[list[int], list[int], list[float]]:
    """Admissible (in-gate) pairs: ``(tracks, plots, costs)`` lists, by track, then plot.

    Tracks last: ``pos [3, K]`` and ``pos_cov [9, K]`` (entries-first, ``sym3``) are the
    predicted positions ``H x`` and their covariances ``H P H^T``; ``zc [D, 3]``,
    ``R [D, 3, 3]`` the converted plots. ``cost`` is ``d2 + ln det(2 pi S)`` as in
    :func:`gate_costs`. The few pairs that pass the per-axis screen are evaluated with Python
    floats (:func:`_pair_costs`), many with NumPy (``sym3``). ``det S > 0`` always holds for the
    positive-definite ``S``; testing it only guards the logarithm.
    """
    nu = zc.T[:, None, :] - pos[:, :, None]  # [3, K, D]
    R_t = R.reshape(-1, 9).T
    inside = nu * nu <= (pos_cov[sym3.DIAG, :, None] + R_t[sym3.DIAG, None, :]) * (
        gate_chi2 * _SCREEN
    )  # nu_i^2 <= gate S_ii, [3, K, D]
    rows, cols = (inside[0] & inside[1] & inside[2]).nonzero()
    if rows.size == 0:
        return [], [], []
    S = pos_cov.take(rows, axis=1) + R_t.take(cols, axis=1)
    v = nu.reshape(3, -1).take(rows * zc.shape[0] + cols, axis=1)
    if rows.size > _SCALAR_PAIRS:
        adj, det = sym3.adjugate_det(S)
        d2 = sym3.quadratic_form(adj, v) / det
        ok = (d2 <= gate_chi2) & (det > 0.0)
        cost = d2[ok] + LOG_2PI_3 + np.log(det[ok])
        return rows[ok].tolist(), cols[ok].tolist(), cost.tolist()
    d2, det = _pair_costs(S.T.tolist(), v.T.tolist())
    keep = [i for i, (q, dt) in enumerate(zip(d2, det, strict=True)) if q <= gate_chi2 and dt > 0.0]
    rows, cols = rows.tolist(), cols.tolist()
    return (
        [rows[i] for i in keep],
        [cols[i] for i in keep],
        [d2[i] + LOG_2PI_3 + math.log(det[i]) for i in keep],
    )


def _pair_costs(S: list, v: list) -> tuple[list[float], list[float]]:
    """``(d2, det S)`` per pair with Python floats: ``S`` rows of 9 entries, ``v`` rows of 3.

    The cofactor formulas of ``sym3`` for a symmetric ``S``.
    """
    d2, det = [], []
    for (s00, s01, s02, _, s11, s12, _, _, s22), (n0, n1, n2) in zip(S, v, strict=True):
        c00 = s11 * s22 - s12 * s12
        c01 = s02 * s12 - s01 * s22
        c02 = s01 * s12 - s02 * s11
        c11 = s00 * s22 - s02 * s02
        c12 = s01 * s02 - s00 * s12
        c22 = s00 * s11 - s01 * s01
        dt = s00 * c00 + s01 * c01 + s02 * c02
        quad = (
            n0 * (c00 * n0 + c01 * n1 + c02 * n2)
            + n1 * (c01 * n0 + c11 * n1 + c12 * n2)
            + n2 * (c02 * n0 + c12 * n1 + c22 * n2)
        )
        d2.append(quad / dt)
        det.append(dt)
    return d2, det


def gate_costs(
    x: np.ndarray, P: np.ndarray, zc: np.ndarray, R: np.ndarray, gate_chi2: float
) -> np.ndarray:
    """Association cost ``[K, D]``: ``d2 + ln det(2 pi S)`` inside the gate, ``+inf`` outside.

    ``x [K, 6]``, ``P [K, 6, 6]`` predicted tracks; ``zc [D, 3]``, ``R [D, 3, 3]`` converted plots.
    Dense output; the work is done on the pairs that pass the per-axis screen (:func:`gate_pairs`).
    """
    x = np.asarray(x, float)
    zc = np.asarray(zc, float).reshape(-1, 3)
    n_tracks, n_plots = x.shape[0], zc.shape[0]
    cost = np.full((n_tracks, n_plots), np.inf)
    if n_tracks == 0 or n_plots == 0:
        return cost
    pos_cov = sym3.entries_first(np.asarray(P, float)[:, :3, :3].copy())
    R = np.asarray(R, float).reshape(n_plots, 3, 3)
    rows, cols, costs = gate_pairs(x[:, :3].T, pos_cov, zc, R, gate_chi2)
    cost[rows, cols] = costs
    return cost


def gnn(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global nearest neighbour: ``(rows, cols)`` int arrays of the assigned finite pairs.

    Maximises the number of assigned finite (in-gate) pairs and, among such assignments,
    minimises their total cost. Implementation: finite costs are shifted to [1, span + 1]
    and ``inf`` replaced by ``M = min(K, D) * (span + 1) + 1``, so that one more forbidden pair
    always costs more than any difference in the finite part; the solver's forbidden pairs are
    dropped afterwards. When no row and no column has two finite pairs the answer is every
    finite pair (the only assignment that uses them all) and the solver is skipped. Empty or
    all-``inf`` input gives empty arrays. Rows come out sorted.
    """
    cost = np.asarray(cost, float)
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    if cost.size == 0:
        return empty
    finite = np.isfinite(cost)
    per_row, per_col = finite.sum(axis=1), finite.sum(axis=0)
    if per_row.max() <= 1 and per_col.max() <= 1:
        r, c = np.nonzero(finite)
        return r.astype(np.int64), c.astype(np.int64)
    # Only rows and columns with an admissible pair take part (smaller problem, same answer).
    row_ok = np.flatnonzero(per_row)
    col_ok = np.flatnonzero(per_col)
    r, c = solve_assignment(cost[np.ix_(row_ok, col_ok)])
    return row_ok[r].astype(np.int64), col_ok[c].astype(np.int64)


def solve_assignment(sub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The core of :func:`gnn` for a matrix whose every row and column has a finite entry.

    Returns the assigned finite pairs ``(rows, cols)`` (rows sorted), by the shift-and-penalty
    transformation described in :func:`gnn` and ``linear_sum_assignment``.
    """
    fin = np.isfinite(sub)
    lo, hi = sub[fin].min(), sub[fin].max()
    span = hi - lo
    big = min(sub.shape) * (span + 1.0) + 1.0
    work = np.where(fin, sub - lo + 1.0, big)
    r, c = linear_sum_assignment(work)
    keep = fin[r, c]
    return r[keep], c[keep]
