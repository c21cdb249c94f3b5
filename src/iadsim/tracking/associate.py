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
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def gate_costs(
    x: np.ndarray, P: np.ndarray, zc: np.ndarray, R: np.ndarray, gate_chi2: float
) -> np.ndarray:
    """Association cost ``[K, D]``: ``d2 + ln det(2 pi S)`` inside the gate, ``+inf`` outside.

    ``x [K, 6]``, ``P [K, 6, 6]`` predicted tracks; ``zc [D, 3]``, ``R [D, 3, 3]`` converted plots.
    Dense over all ``K x D`` pairs (memory ~ 150 bytes per pair).
    """
    x = np.asarray(x, float)
    zc = np.asarray(zc, float).reshape(-1, 3)
    n_tracks, n_plots = x.shape[0], zc.shape[0]
    if n_tracks == 0 or n_plots == 0:
        return np.full((n_tracks, n_plots), np.inf)
    S = np.asarray(P, float)[:, None, :3, :3] + np.asarray(R, float)[None, :, :, :]  # [K,D,3,3]
    nu = zc[None, :, :] - x[:, None, :3]  # [K, D, 3]
    sol = np.linalg.solve(S, nu[..., None])[..., 0]
    d2 = np.einsum("kdi,kdi->kd", nu, sol)
    _sign, logdet = np.linalg.slogdet(S)
    cost = d2 + 3.0 * np.log(2.0 * np.pi) + logdet
    return np.where(d2 <= gate_chi2, cost, np.inf)


def gnn(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global nearest neighbour: ``(rows, cols)`` int arrays of the assigned finite pairs.

    Maximises the number of assigned finite (in-gate) pairs and, among such assignments,
    minimises their total cost. Implementation: finite costs are shifted to [1, span + 1]
    and ``inf`` replaced by ``M = min(K, D) * (span + 1) + 1``, so that one more forbidden pair
    always costs more than any difference in the finite part; the solver's forbidden pairs are
    dropped afterwards. Empty or all-``inf`` input gives empty arrays. Rows come out sorted.
    """
    cost = np.asarray(cost, float)
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    if cost.size == 0:
        return empty
    finite = np.isfinite(cost)
    if not finite.any():
        return empty
    # Only rows and columns with an admissible pair take part (smaller problem, same answer).
    row_ok = np.flatnonzero(finite.any(axis=1))
    col_ok = np.flatnonzero(finite.any(axis=0))
    sub = cost[np.ix_(row_ok, col_ok)]
    fin = np.isfinite(sub)
    lo, hi = sub[fin].min(), sub[fin].max()
    span = hi - lo
    big = min(sub.shape) * (span + 1.0) + 1.0
    work = np.where(fin, sub - lo + 1.0, big)
    r, c = linear_sum_assignment(work)
    keep = fin[r, c]
    return row_ok[r[keep]].astype(np.int64), col_ok[c[keep]].astype(np.int64)
