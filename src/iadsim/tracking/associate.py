"""Association costs for the simulator's 3-D tracker, on the shared kernel (``core``).

Gating (Blackman & Popoli, *Design and Analysis of Modern Tracking Systems*, 1999, sec. 6.3;
Bar-Shalom, Li & Kirubarajan sec. 5.4.2): for track ``k`` with predicted position covariance
``H P_k H^T`` and converted plot ``d`` with covariance ``R_d``, the innovation ``nu = z_d - H x_k``
has covariance ``S = H P_k H^T + R_d`` and normalised distance ``d2 = nu^T S^-1 nu``, which is
chi-square with 3 degrees of freedom for the correct pair. A pair is admissible when
``d2 < gate_chi2`` (:func:`iadsim.tracking.core.gate_pairs`).

Cost: the negative log-likelihood of the pair up to a constant,
``d2 + ln det(2 pi S)`` (Blackman & Popoli eq. 6.29, the "generalised" distance), which
penalises tracks whose large uncertainty makes any plot look close.

GNN (Blackman & Popoli sec. 6.4): one plot per track and one track per plot, chosen to give
the largest number of admissible pairs and, among those, the least total cost
(:func:`iadsim.tracking.core.gnn` with no miss cost).
"""

from __future__ import annotations

import math

import numpy as np

from iadsim.tracking import core

LOG_2PI_3 = 3.0 * math.log(2.0 * math.pi)


def pair_costs(
    pos: np.ndarray, pos_cov: np.ndarray, zc: np.ndarray, R: np.ndarray, gate_chi2: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Admissible pairs ``(rows, cols, cost)`` by track, then plot: ``pos [K, 3]``,
    ``pos_cov [K, 3, 3]`` predicted positions and covariances, ``zc [D, 3]``, ``R [D, 3, 3]``
    converted plots; ``cost = d2 + ln det(2 pi S)``."""
    rows, cols, d2, det = core.gate_pairs(pos, pos_cov, zc, gate_chi2, R)
    return rows, cols, d2 + LOG_2PI_3 + np.log(det)


def gate_costs(
    x: np.ndarray, P: np.ndarray, zc: np.ndarray, R: np.ndarray, gate_chi2: float
) -> np.ndarray:
    """Association cost ``[K, D]``: ``d2 + ln det(2 pi S)`` inside the gate, ``+inf`` outside.

    ``x [K, 6]``, ``P [K, 6, 6]`` predicted tracks; ``zc [D, 3]``, ``R [D, 3, 3]`` converted plots.
    A dense view of :func:`pair_costs` (for small problems and tests).
    """
    x = np.asarray(x, float)
    zc = np.asarray(zc, float).reshape(-1, 3)
    n_tracks, n_plots = x.shape[0], zc.shape[0]
    cost = np.full((n_tracks, n_plots), np.inf)
    if n_tracks == 0 or n_plots == 0:
        return cost
    R = np.asarray(R, float).reshape(n_plots, 3, 3)
    rows, cols, c = pair_costs(x[:, :3], np.asarray(P, float)[:, :3, :3], zc, R, gate_chi2)
    cost[rows, cols] = c
    return cost


def gnn(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global nearest neighbour on a dense cost matrix (``inf`` = not admissible):
    ``(rows, cols)`` int arrays of the assigned pairs, rows sorted. The most pairs, then the
    least total cost (:func:`iadsim.tracking.core.gnn`)."""
    cost = np.asarray(cost, float)
    r, c = np.nonzero(np.isfinite(cost))
    a = core.gnn(cost.shape[0], cost.shape[1], r, c, cost[r, c], None)
    k = np.flatnonzero(a >= 0)
    return k.astype(np.int64), a[k]
