"""Joint probabilistic data association (JPDA) marginals over gated track-detection pairs.

Fortmann, Bar-Shalom & Scheffe, "Sonar tracking of multiple targets using joint probabilistic
data association", IEEE J. Oceanic Eng. 8(3), 1983; parametric (Poisson clutter) form as in
Bar-Shalom, Daum & Huang, "The probabilistic data association filter", IEEE CSM 29(6), 2009.

A joint event ``theta`` assigns each track at most one gated detection and each detection at
most one track (the rest are clutter). With clutter density ``lambda`` [1/m^2], detection
probability ``Pd`` and gate probability ``Pg``,

    P(theta | Z) ∝ prod_{(t, i) in theta} Pd L_ti / lambda  *  prod_{t missed} (1 - Pd Pg),

``L_ti`` the predicted likelihood of detection i under track t. Dividing by the constant
``prod_t (1 - Pd Pg)`` gives weights ``a_ti = Pd L_ti / (lambda (1 - Pd Pg))`` per pair and 1
per missed track. The marginals are ``beta_ti = sum_{theta: t->i} P(theta)`` and
``beta_t0 = sum_{theta: t missed} P(theta)``; ``beta_t0 + sum_i beta_ti = 1``.

The problem separates over connected components (clusters) of the gate graph.

- One-track clusters (most of them): ``beta_ti = a_ti / (1 + sum_i a_ti)`` (PDA).
- Clusters of up to ``max_exact`` tracks: exact marginals, i.e. the same sums as enumerating
  every joint event, computed by dynamic programming over detections with the set of used
  tracks as a bitmask (O(D T 2^T) instead of the number of events, which grows like D^T).
  Forward ``f_{i+1}(U) = f_i(U) + sum_{t in U} f_i(U - t) a_ti`` and backward
  ``b_i(U) = b_{i+1}(U) + sum_{t not in U} a_ti b_{i+1}(U + t)``, ``b_D = 1``; then
  ``beta_ti = sum_{U not ni t} f_i(U) a_ti b_{i+1}(U + t) / Z``,
  ``beta_t0 = sum_{U not ni t} f_D(U) / Z``, ``Z = b_0(empty)``. Tested against brute-force
  enumeration.
- Larger clusters: the "cheap JPDA" of Fitzgerald (1985, "Development of practical PDA logic
  for multitarget tracking by microprocessor", in *Multitarget-Multisensor Tracking: Advanced
  Applications*), ``beta_ti = a_ti / (A_t + B_i - a_ti + 1)`` with ``A_t = sum_i a_ti`` and
  ``B_i = sum_t a_ti``, then ``beta_t0 = 1 - sum_i beta_ti`` (exact for one track; an
  approximation otherwise).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

_I64 = np.int64


def pair_weights(lik: np.ndarray, pd: float, pg: float, clutter_density: float) -> np.ndarray:
    """``a = Pd L / (lambda (1 - Pd Pg))`` of each gated pair (see module docstring)."""
    lam = max(float(clutter_density), 1e-30)
    miss = max(1.0 - pd * pg, 1e-12)
    return pd * np.asarray(lik, float) / (lam * miss)


def exact_cluster(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact JPDA marginals of one cluster, ``a [T, D]`` (0 = not gated), by bitmask DP.

    Returns ``beta [T, D]`` and ``beta0 [T]``.
    """
    t_n, d_n = a.shape
    n_u = 1 << t_n
    masks = np.arange(n_u, dtype=_I64)
    has = [(masks >> t) & 1 == 1 for t in range(t_n)]
    f = np.zeros((d_n + 1, n_u))
    f[0, 0] = 1.0
    for i in range(d_n):
        f[i + 1] = f[i]
        for t in range(t_n):
            if a[t, i] > 0:
                u = masks[has[t]]
                f[i + 1, u] += f[i, u ^ (1 << t)] * a[t, i]
    b = np.zeros((d_n + 1, n_u))
    b[d_n] = 1.0
    for i in range(d_n - 1, -1, -1):
        b[i] = b[i + 1]
        for t in range(t_n):
            if a[t, i] > 0:
                u = masks[~has[t]]
                b[i, u] += a[t, i] * b[i + 1, u | (1 << t)]
    z = b[0, 0]
    beta = np.zeros((t_n, d_n))
    beta0 = np.zeros(t_n)
    for t in range(t_n):
        u = masks[~has[t]]
        beta0[t] = f[d_n, u].sum() / z
        for i in range(d_n):
            if a[t, i] > 0:
                beta[t, i] = a[t, i] * (f[i, u] * b[i + 1, u | (1 << t)]).sum() / z
    return beta, beta0


def cheap_cluster(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fitzgerald's cheap JPDA on ``a [T, D]`` (see module docstring)."""
    at = a.sum(axis=1, keepdims=True)
    bi = a.sum(axis=0, keepdims=True)
    beta = a / (at + bi - a + 1.0)
    s = beta.sum(axis=1)
    over = s > 1.0
    beta[over] /= s[over, None]
    return beta, np.clip(1.0 - beta.sum(axis=1), 0.0, 1.0)


def brute_force(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference marginals by explicit enumeration of joint events (tests, tiny clusters)."""
    t_n, d_n = a.shape
    beta, beta0, total = np.zeros((t_n, d_n)), np.zeros(t_n), 0.0

    def rec(t: int, used: frozenset, w: float, choice: list) -> None:
        nonlocal total
        if t == t_n:
            total += w
            for s, i in enumerate(choice):
                if i < 0:
                    beta0[s] += w
                else:
                    beta[s, i] += w
            return
        rec(t + 1, used, w, choice + [-1])
        for i in range(d_n):
            if a[t, i] > 0 and i not in used:
                rec(t + 1, used | {i}, w * a[t, i], choice + [i])

    rec(0, frozenset(), 1.0, [])
    return beta / total, beta0 / total


def jpda_marginals(n_tracks: int, n_dets: int, rows, cols, a, max_exact: int = 10):
    """Association probabilities of gated pairs ``(rows, cols)`` with weights ``a``.

    Returns ``beta [n_pairs]`` (pair order kept), ``beta0 [n_tracks]`` and the number of
    clusters that used the cheap approximation (``> max_exact`` tracks).
    """
    rows, cols = np.asarray(rows, _I64), np.asarray(cols, _I64)
    a = np.asarray(a, float)
    beta = np.zeros(len(rows))
    beta0 = np.ones(n_tracks)
    if len(rows) == 0:
        return beta, beta0, 0
    graph = coo_matrix((np.ones(len(rows)), (rows, n_tracks + cols)),
                       shape=(n_tracks + n_dets,) * 2)
    _, label = connected_components(graph, directed=False)
    comp = label[rows]
    # clusters with one track: closed-form PDA, vectorised
    tracks_per_comp = np.bincount(label[:n_tracks], minlength=label.max() + 1)
    single = tracks_per_comp[comp] == 1
    if single.any():
        tot = np.bincount(rows[single], weights=a[single], minlength=n_tracks)
        beta[single] = a[single] / (1.0 + tot[rows[single]])
        hit = np.unique(rows[single])
        beta0[hit] = 1.0 / (1.0 + tot[hit])
    n_cheap = 0
    multi = np.flatnonzero(~single)
    if multi.size:
        order = multi[np.argsort(comp[multi], kind="stable")]
        bounds = np.flatnonzero(np.diff(comp[order])) + 1
        for e in np.split(order, bounds):
            tr, r = np.unique(rows[e], return_inverse=True)
            de, c = np.unique(cols[e], return_inverse=True)
            mat = np.zeros((tr.size, de.size))
            mat[r, c] = a[e]
            if tr.size <= max_exact:
                bt, b0 = exact_cluster(mat)
            else:
                bt, b0 = cheap_cluster(mat)
                n_cheap += 1
            beta[e] = bt[r, c]
            beta0[tr] = b0
    return beta, beta0, n_cheap
