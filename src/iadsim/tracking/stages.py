"""The stages of :func:`~iadsim.tracking.tracker.tracker_step`, written for its sizes.

A scan has a few dozen tracks and a few plots, so the cost of a stage is the number of NumPy
calls, not their size. The vectorised parts work on the live tracks at once (tracks last:
positions ``[3, K]``, covariances ``[9, K]`` entries-first, see ``sym3``); what concerns a few
tracks or plots (the pairs that pass the gate screen, the assigned tracks, the counters)
runs in Python scalars. Every stage gives exactly the decisions of the plain array version
(see the docstrings for why), and the Kalman filter itself is always ``kalman``'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from iadsim import geo
from iadsim.params import TrackerParams
from iadsim.state import TRACK_CONFIRMED, TRACK_TENTATIVE, Tracks
from iadsim.tracking import core, sym3
from iadsim.tracking.associate import gate_costs, gnn, pair_costs
from iadsim.tracking.kalman import cv_process_noise, cv_transition

MARGIN = 1e-9  # relative margin of the decisions taken from bounds (far above rounding)
_TWO_KR = 2.0 * geo.K_REFRACTION * geo.EARTH_RADIUS_M


def in_coverage(
    radar_pos: np.ndarray, pos: np.ndarray, max_range_m: float, min_el: float, max_el: float
) -> list[bool]:
    """``geo.coverage`` of the positions ``pos [3, K]``, as a list of ``K`` bools.

    Slant range ``>=`` ground distance, so tracks with ``d > max_range_m`` are outside (most
    tracks: the miss range is short). For the others ``r`` and ``el`` come from the NumPy
    formulas of ``geo`` (bit for bit) and the horizon and limit tests run in Python floats
    (``math.sqrt`` is the correctly rounded square root, like ``np.sqrt``): the same decisions.
    """
    d = np.hypot(*(pos[:2] - radar_pos[:2, None]))
    near = (d <= max_range_m).nonzero()[0]
    visible = [False] * d.size
    if near.size == 0:
        return visible
    d = d.take(near)
    u_r = float(radar_pos[2])
    u, d_list = pos[2].take(near).tolist(), d.tolist()
    # v = dh - curvature_drop(d), as geo.radar_polar computes it (same float operations)
    v = np.array(
        [(u_t - u_r) - geo.curvature_drop(d_t) for u_t, d_t in zip(u, d_list, strict=True)]
    )
    horizon_r = math.sqrt(_TWO_KR * max(u_r, 0.0))
    for k, u_t, d_t, r_t, el_t in zip(
        near.tolist(), u, d_list, np.hypot(d, v).tolist(), np.arctan2(v, d).tolist(), strict=True
    ):
        visible[k] = (
            u_t > 0.0
            and d_t <= horizon_r + math.sqrt(_TWO_KR * max(u_t, 0.0))
            and r_t <= max_range_m
            and min_el <= el_t <= max_el
        )
    return visible


def associate(
    pos: np.ndarray,
    pos_cov: np.ndarray,
    status: list[int],
    zc: np.ndarray,
    R: np.ndarray,
    gate: float,
) -> tuple[list[int], list[int]]:
    """Staged GNN: ``(tracks, plots)``, the assigned pairs, tracks increasing.

    ``pos [3, K]``, ``pos_cov [9, K]``: predicted tracks (entries-first); ``status [K]``;
    ``gate`` the chi-square threshold. Confirmed tracks take their plots first, tentative ones
    the plots left, each stage by :func:`iadsim.tracking.core.gnn` (most pairs, then least
    cost) on the admissible pairs of :func:`~iadsim.tracking.associate.pair_costs`. When all
    the admissible pairs form a matching the stages do not interact and every pair is taken.
    """
    n, m = pos.shape[1], zc.shape[0]
    if n * m > core.DENSE_PAIRS:
        return _associate_large(pos, pos_cov, status, zc, R, gate)
    rows, cols, cost = pair_costs(pos.T, pos_cov.T.reshape(n, 3, 3), zc, R, gate)
    if rows.size == 0:
        return [], []
    rl, cl = rows.tolist(), cols.tolist()
    if len(set(rl)) == len(rl) and len(set(cl)) == len(cl):
        return rl, cl
    conf = np.array([status[k] == TRACK_CONFIRMED for k in rl])
    a = np.full(n, -1, dtype=np.int64)
    if conf.any():
        a = core.gnn(n, m, rows[conf], cols[conf], cost[conf], None)
    tent = ~conf
    if tent.any():
        taken = np.zeros(m, bool)
        taken[a[a >= 0]] = True
        tent &= ~taken[cols]
        if tent.any():
            a = np.where(a >= 0, a, core.gnn(n, m, rows[tent], cols[tent], cost[tent], None))
    k = np.flatnonzero(a >= 0)
    return k.tolist(), a[k].tolist()


def _associate_large(
    pos: np.ndarray,
    pos_cov: np.ndarray,
    status: list[int],
    zc: np.ndarray,
    R: np.ndarray,
    gate: float,
) -> tuple[list[int], list[int]]:
    """:func:`associate` for large scans, gating stage by stage: the tentative tracks (whose
    one-point initiation makes their gates wide) are gated only against the plots the
    confirmed tracks left, so a dense raid does not pair every new track with every plot.
    The same pairs, costs and decisions as the one-pass version."""
    n, m = pos.shape[1], zc.shape[0]
    a = np.full(n, -1, dtype=np.int64)
    free = np.arange(m)
    for stage in (TRACK_CONFIRMED, TRACK_TENTATIVE):
        sel = np.flatnonzero(np.asarray(status) == stage)
        if sel.size == 0 or free.size == 0:
            continue
        rows, cols, cost = pair_costs(pos.T[sel], pos_cov.T[sel].reshape(-1, 3, 3), zc[free],
                                      R[free], gate)
        if rows.size == 0:
            continue
        got = core.gnn(sel.size, free.size, rows, cols, cost, None)
        hit = got >= 0
        a[sel[hit]] = free[got[hit]]
        keep = np.ones(free.size, bool)
        keep[got[hit]] = False
        free = free[keep]
    k = np.flatnonzero(a >= 0)
    return k.tolist(), a[k].tolist()


def count(
    counts: list[list[int]], touched: list, params: TrackerParams
) -> tuple[list[int], list[int], list[int]]:
    """Steps 5-6 in Python ints: counters, M-of-N confirmation, deletion by the counters.

    ``counts = [hits, misses, n_scans, status]``, lists over the tracks (changed in place);
    ``touched[k]``: false outside coverage, true in coverage without a plot, 2 updated with a
    plot. Returns the tracks newly confirmed, those to delete by their counters, and those
    whose counters or status changed (each increasing). A few comparisons per track: cheaper
    than the ~20 NumPy calls of the array version for the tens of tracks of a scan.
    """
    hits, misses, scans, status = counts
    m_of, n_of, max_misses = params.confirm_m, params.confirm_n, params.delete_misses
    newly, gone, changed = [], [], []
    for k, how in enumerate(touched):
        tentative = status[k] == TRACK_TENTATIVE
        if how:
            changed.append(k)
            if how == 2:
                hits[k] += 1
                misses[k] = 0
            else:
                misses[k] += 1
            if tentative:
                scans[k] += 1
        if tentative:
            if hits[k] >= m_of and scans[k] <= n_of:
                status[k] = TRACK_CONFIRMED
                newly.append(k)
                if not how:
                    changed.append(k)
                if misses[k] >= max_misses:
                    gone.append(k)
            elif scans[k] >= n_of:
                gone.append(k)
                if not how:
                    changed.append(k)
        elif misses[k] >= max_misses:
            gone.append(k)
            if not how:
                changed.append(k)
    return newly, gone, changed


def too_wide(
    pos_cov: np.ndarray,
    candidates: list[int],
    exact_cov: Callable[[list[int]], np.ndarray],
    max_sigma: float,
) -> list[int]:
    """The ``candidates`` whose position std ``sqrt(lambda_max)`` at ``t`` exceeds ``max_sigma``.

    ``pos_cov [9, K]`` (entries-first) is the position covariance at ``t``. Decided by the
    bounds of ``sym3.max_eigenvalue_bounds`` with the relative margin ``MARGIN``; the
    undecided tracks get ``eigvalsh`` of ``exact_cov(indices) [n, 3, 3]``, their covariance
    exactly as the filter has it, so the answer is the one ``eigvalsh`` of every track gives.
    """
    lim = max_sigma * max_sigma
    lo, hi = sym3.max_eigenvalue_bounds(pos_cov[:, candidates])
    wide, unsure = [], []
    for k, lo_k, hi_k in zip(candidates, lo.tolist(), hi.tolist(), strict=True):
        if lo_k > lim * (1.0 + MARGIN):
            wide.append(k)
        elif hi_k >= lim * (1.0 - MARGIN):
            unsure.append(k)
    if unsure:
        lam = np.linalg.eigvalsh(exact_cov(unsure))[:, -1]
        sigma = np.sqrt(np.maximum(lam, 0.0)).tolist()
        wide = sorted(wide + [k for k, s in zip(unsure, sigma, strict=True) if s > max_sigma])
    return wide


def absorb(
    tracks: Tracks,
    li: np.ndarray,
    t: float,
    zc: np.ndarray,
    R: np.ndarray,
    free: list[int],
    params: TrackerParams,
    gate: float,
) -> list[int]:
    """The plots of ``free`` left after those that gate with the out-of-sequence tracks ``li``.

    Retrodiction ``F(t - t_update) x``, ``F P F^T + Q(|t - t_update|)``, then GNN.
    """
    dtl = t - tracks.t_update[li]
    F = cv_transition(dtl)
    xl = np.einsum("kij,kj->ki", F, tracks.x[li])
    Pl = F @ tracks.P[li] @ np.swapaxes(F, -1, -2)
    Pl = Pl + cv_process_noise(np.abs(dtl), params.accel_sigma_mps2)
    _r, c = gnn(gate_costs(xl, Pl, zc[free], R[free], gate))
    used = {free[j] for j in c.tolist()}
    return [d for d in free if d not in used]
