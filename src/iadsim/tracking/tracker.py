"""Multi-target tracker: one step per batch of plots (one scan of one sensor).

The roles of Stone Soup's ``MultiTargetTracker`` (predictor, hypothesiser, data associator,
updater, initiator, deleter) as one pure function over the track file ``state.Tracks``:

1. **Out of sequence.** Live tracks updated after the batch time (``t_update > t``: a slow link
   delivered an older scan) are left out of prediction, update and bookkeeping and counted.
   Plots of the batch that fall in the gate of such a track are *absorbed*: neither used nor
   turned into new tracks (retrodiction by ``F(t - t_update)`` with ``Q(|t - t_update|)``, a
   crude stand-in for proper out-of-sequence filtering, Bar-Shalom, Li & Kirubarajan sec. 10.8).
2. **Predict** the other live tracks to ``t`` (``kalman.predict``, CWNA model).
3. **Coverage**: a track is in this sensor's coverage when its predicted position is in line of
   sight (4/3 earth), within ``max_range_m`` and within the elevation limits.
4. **Associate** by global nearest neighbour in two stages, confirmed tracks first, then
   tentative tracks on the plots left (Blackman & Popoli sec. 6.4: a confirmed track is not
   robbed of its plot by a tentative one, and duplicate tentative tracks starve).
5. **Update** assigned tracks (``hits += 1, misses = 0, t_update = t``). In-coverage tracks not
   assigned get ``misses += 1``; their ``x, P`` stay as of their last update, so the next
   prediction starts from it. Tentative tracks in coverage (or assigned) get ``n_scans += 1``.
6. **Confirm** tentative tracks with ``hits >= confirm_m`` and ``n_scans <= confirm_n`` (M-of-N
   logic, Blackman & Popoli sec. 3.6; the initiating plot counts as the first hit and scan).
   **Delete** tentative tracks with ``n_scans >= confirm_n`` still unconfirmed; confirmed tracks
   with ``misses >= delete_misses`` or predicted position std ``> max_pos_sigma_m``; and
   tentative tracks with ``hits >= 2`` (velocity observed) over that std too, which removes a
   tentative track that left every sensor's coverage. Position std = sqrt of the largest
   eigenvalue of the position block of ``P`` at ``t`` (updated or predicted): the worst axis.
7. **Initiate** a tentative track from each plot left unassigned (one-point initiation,
   ``x = (zc, 0)``, ``P = blockdiag(R, init_speed_sigma^2 I3)``) in plot order, in free slots by
   increasing index, with ids from ``tracks.next_id`` (never reused). Plots that find no free
   slot are dropped and counted as overflow (the engine may reallocate and replay).

The step never mutates its input and never reads truth. The returned track file shares the
field arrays that did not change with the input (both are immutable values).

Implementation (per-call cost, not the maths; a scan has a few dozen tracks and plots, so
the cost is the number of NumPy calls, not their size):

- the step gathers the live slots once (tracks last: ``[6, K]``, ``[36, K]``, and the five
  integer fields as one ``[5, K]`` block), works on these, and scatters back once; the
  returned integer fields are rows of one new ``[5, capacity]`` array;
- coverage, gating and the deletion test use the closed-form position prediction
  (``kalman.predict_position``); only tracks that get a plot go through the full 6x6
  :func:`~iadsim.tracking.kalman.predict` and :func:`~iadsim.tracking.kalman.update`, so the
  stored ``x, P`` are exactly the filter's;
- gating evaluates only the pairs that pass a trace screen (``associate.gate_pairs``);
- the position-std test decides from eigenvalue bounds (``sym3.max_eigenvalue_bounds``) and
  runs ``eigvalsh`` on the filter's own position block only where the threshold lies between
  them, so it decides exactly as ``eigvalsh`` on every track would.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from iadsim import geo
from iadsim.params import TrackerParams
from iadsim.state import TRACK_CONFIRMED, TRACK_FREE, TRACK_TENTATIVE, Tracks
from iadsim.tracking import sym3
from iadsim.tracking.associate import gate_costs, gate_pairs, gnn
from iadsim.tracking.kalman import (
    _predict,
    _update,
    convert_measurements,
    cv_process_noise,
    cv_transition,
    predict_position,
)

_I64 = np.int64
_EMPTY = np.zeros(0, dtype=_I64)
_EYE3 = np.eye(3)
_MARGIN = 1e-9  # relative margin of the eigenvalue-bound decisions (covers rounding)


@functools.lru_cache(maxsize=64)
def _gate_threshold(prob: float) -> float:
    """Chi-square gate for a 3-D innovation (computed once per gate probability)."""
    return float(chi2.ppf(prob, 3))


@dataclass(frozen=True, slots=True)
class StepInfo:
    """What one :func:`tracker_step` did (counts, and ids for the event log)."""

    updated: int  # tracks updated with a plot
    initiated: int  # tentative tracks started
    confirmed: int  # tentative tracks confirmed
    deleted_confirmed: int  # confirmed tracks deleted (misses or covariance)
    deleted_tentative: int  # tentative tracks dropped
    out_of_sequence: int  # live tracks left out because t_update > t
    overflow: int  # plots that found no free slot to start a track
    absorbed: int  # plots dropped because they gate with an out-of-sequence track
    confirmed_ids: np.ndarray  # [confirmed] int, ids of the tracks confirmed in this step
    deleted_ids: np.ndarray  # [deleted_confirmed] int, ids of the confirmed tracks deleted
    plot_track_id: np.ndarray  # [D] int, id of the track each plot updated or started, else -1

    def counts(self) -> dict[str, int]:
        """The integer counters as a dict (keys as the field names)."""
        return {
            "updated": self.updated,
            "initiated": self.initiated,
            "confirmed": self.confirmed,
            "deleted_confirmed": self.deleted_confirmed,
            "deleted_tentative": self.deleted_tentative,
            "out_of_sequence": self.out_of_sequence,
            "overflow": self.overflow,
            "absorbed": self.absorbed,
        }


def _associate(
    pos: np.ndarray,
    pos_cov: np.ndarray,
    status: np.ndarray,
    zc: np.ndarray,
    R: np.ndarray,
    gate: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Staged GNN: ``(tracks, plots)``, the assigned pairs as index arrays, tracks increasing.

    ``pos [3, K]``, ``pos_cov [9, K]``: predicted tracks, tracks last (``gate_pairs``).
    Confirmed tracks take their plots first, tentative ones the plots left. When the
    admissible pairs of a stage form a matching (no track with two plots, no plot with two
    tracks) :func:`gnn` would take them all, so they are taken without it; otherwise ``gnn``
    gets the dense matrix of the tracks and plots that have a pair (the rows and columns it
    keeps itself). When all admissible pairs form a matching the stages do not interact.
    """
    pairs = gate_pairs(pos, pos_cov, zc, R, gate)
    tracks = [k for k, _, _ in pairs]
    plots = [d for _, d, _ in pairs]
    if len(set(tracks)) < len(pairs) or len(set(plots)) < len(pairs):
        taken: dict[int, int] = {}  # plot -> track
        stage_of = status[tracks].tolist()
        for stage in (TRACK_CONFIRMED, TRACK_TENTATIVE):
            sp = [p for p, s in zip(pairs, stage_of, strict=True) if s == stage and p[1] not in taken]
            rows = sorted({k for k, _, _ in sp})
            cols = sorted({d for _, d, _ in sp})
            if len(rows) == len(sp) and len(cols) == len(sp):
                taken.update((d, k) for k, d, _ in sp)
                continue
            sub = np.full((len(rows), len(cols)), np.inf)
            row_of = {k: i for i, k in enumerate(rows)}
            col_of = {d: j for j, d in enumerate(cols)}
            for k, d, c in sp:
                sub[row_of[k], col_of[d]] = c
            r, c = gnn(sub)
            taken.update((cols[j], rows[i]) for i, j in zip(r.tolist(), c.tolist(), strict=True))
        tracks, plots = [], []
        for d, k in sorted(taken.items(), key=lambda dk: dk[1]):
            tracks.append(k)
            plots.append(d)
    return np.array(tracks, dtype=_I64), np.array(plots, dtype=_I64)


def _wide(
    pos_cov: np.ndarray,
    candidates: np.ndarray,
    exact_cov: Callable[[np.ndarray], np.ndarray],
    max_sigma: float,
) -> np.ndarray:
    """The ``candidates`` (indices) whose position std ``sqrt(lambda_max)`` exceeds ``max_sigma``.

    ``pos_cov [9, K]`` (entries-first) is the position covariance at ``t``. Decided by the
    bounds of ``sym3.max_eigenvalue_bounds`` with a relative margin ``_MARGIN`` far above
    rounding; the undecided tracks get ``eigvalsh`` of ``exact_cov(indices) [n, 3, 3]``, their
    position covariance exactly as the filter has it, so the answer is the one ``eigvalsh`` of
    every track would give.
    """
    lim = max_sigma * max_sigma
    lo, hi = sym3.max_eigenvalue_bounds(pos_cov[:, candidates])
    wide = lo > lim * (1.0 + _MARGIN)
    unsure = ((hi >= lim * (1.0 - _MARGIN)) & ~wide).nonzero()[0]
    if unsure.size:
        lam = np.linalg.eigvalsh(exact_cov(candidates[unsure]))[:, -1]
        wide[unsure] = np.sqrt(np.maximum(lam, 0.0)) > max_sigma
    return candidates[wide]


def _in_coverage(
    radar_pos: np.ndarray, pos: np.ndarray, max_range_m: float, min_el: float, max_el: float
) -> np.ndarray:
    """``geo.coverage`` of the positions ``pos [3, K]``, bool ``[K]``, decided the same way.

    Slant range ``>=`` ground distance, so tracks with ``d > max_range_m`` are outside (most
    tracks: the miss range is short). For the others ``r`` and ``el`` come from the NumPy
    formulas of ``geo`` (bit for bit) and the horizon and limit tests run in Python floats
    (``math.sqrt`` is the correctly rounded square root, like ``np.sqrt``).
    """
    d = np.hypot(pos[0] - radar_pos[0], pos[1] - radar_pos[1])
    near = (d <= max_range_m).nonzero()[0]
    visible = np.zeros(d.shape, dtype=bool)
    if near.size == 0:
        return visible
    u = pos[2, near]
    d = d[near]
    v = (u - radar_pos[2]) - geo._curvature_drop(d)
    two_kr = 2.0 * geo.K_REFRACTION * geo.EARTH_RADIUS_M
    horizon_r = math.sqrt(two_kr * max(float(radar_pos[2]), 0.0))
    visible[near] = [
        u_t > 0.0
        and d_t <= horizon_r + math.sqrt(two_kr * max(u_t, 0.0))
        and r_t <= max_range_m
        and min_el <= el_t <= max_el
        for u_t, d_t, r_t, el_t in zip(
            u.tolist(), d.tolist(), np.hypot(d, v).tolist(), np.arctan2(v, d).tolist(),
            strict=True,
        )
    ]
    return visible


def _scatter(full: np.ndarray, idx: np.ndarray, values: np.ndarray | float) -> np.ndarray:
    """A copy of ``full`` with ``full[idx] = values``."""
    out = full.copy()
    out[idx] = values
    return out


def tracker_step(
    tracks: Tracks,
    radar_pos: np.ndarray,
    z: np.ndarray,
    sigma: np.ndarray,
    t: float,
    max_range_m: float,
    params: TrackerParams,
    *,
    min_el_rad: float = -np.pi / 2,
    max_el_rad: float = np.pi / 2,
) -> tuple[Tracks, StepInfo]:
    """Process one scan of one sensor: predict, gate, associate, update, confirm, delete, start.

    Args:
        tracks: the track file before the batch (not modified).
        radar_pos: [3] m, the sensor's position (e, n, u).
        z: [D, 3] plots (range m, azimuth rad, elevation rad), all measured at ``t``.
        sigma: [3] (or [D, 3]) measurement noise std (range m, azimuth rad, elevation rad).
        t: measurement time of the batch [s]; batches are fed in increasing ``t``.
        max_range_m: the sensor's instrumented range (coverage test for misses).
        params: tracker settings.
        min_el_rad, max_el_rad: the sensor's elevation limits (coverage test).

    Returns the new :class:`~iadsim.state.Tracks` and a :class:`StepInfo`. The steps and the
    models are in the module docstring.
    """
    radar_pos = np.asarray(radar_pos, float)
    z = np.asarray(z, float).reshape(-1, 3)
    n_plots = z.shape[0]
    accel = float(params.accel_sigma_mps2)

    # 1-3: split live tracks, predict positions, coverage. Arrays over ``ci`` are tracks last.
    live = (tracks.status != TRACK_FREE).nonzero()[0]
    t_upd = tracks.t_update[live]
    late = t_upd > t
    li, ci = _EMPTY, live
    if np.count_nonzero(late):
        li, ci, t_upd = live[late], live[~late], t_upd[~late]
    dt = t - t_upd
    P_rows = tracks.P.reshape(-1, 36).take(ci, axis=0)  # [n, 36]
    pos, pos_cov = predict_position(tracks.x.take(ci, axis=0).T, P_rows.T, dt, accel)
    in_cov = _in_coverage(radar_pos, pos, max_range_m, min_el_rad, max_el_rad)

    # 4: staged GNN, confirmed tracks first.
    status_c = tracks.status[ci]
    a = pa = _EMPTY  # assigned tracks (indices into ci, increasing) and their plots
    zc = R = None
    if n_plots:
        zc, R = convert_measurements(radar_pos, z, sigma)
        if ci.size:
            a, pa = _associate(pos, pos_cov, status_c, zc, R, _gate_threshold(params.gate_prob))
    assigned = np.zeros(ci.size, dtype=bool)
    free = np.ones(n_plots, dtype=bool)
    plot_track_id = np.full(n_plots, -1, dtype=_I64)

    # 5: update (the full filter, on the assigned tracks only).
    x, P, t_update = tracks.x, tracks.P, tracks.t_update
    Pu = None
    if a.size:
        assigned[a] = True
        free[pa] = False
        slots = ci[a]
        xu, Pu = _update(*_predict(x[slots], P[slots], dt[a], accel), zc[pa], R[pa])
        x, P = _scatter(x, slots, xu), _scatter(P, slots, Pu)
        t_update = _scatter(t_update, slots, t)
        plot_track_id[pa] = tracks.track_id[slots]
        pos_cov[:, a] = Pu[:, :3, :3].reshape(-1, 9).T  # P at t: updated where updated

    # 1 (cont.): plots that belong to out-of-sequence tracks are absorbed.
    absorbed = 0
    if li.size and free.any():
        absorbed = _absorb(tracks, li, t, zc, R, free, params)

    # 5-6: counters, confirmation, deletion by counters (all tracks of ``ci``).
    counts = np.array([tracks.hits, tracks.misses, tracks.n_scans]).take(ci, axis=1)
    hits_c, misses_c, scans_c = counts
    touched = in_cov | assigned
    tentative = status_c == TRACK_TENTATIVE
    hits_c += assigned
    misses_c += in_cov
    misses_c *= ~assigned
    scans_c += touched & tentative
    newly = tentative & (hits_c >= params.confirm_m) & (scans_c <= params.confirm_n)
    status_c[newly] = TRACK_CONFIRMED
    tentative ^= newly
    gone = np.where(tentative, scans_c >= params.confirm_n, misses_c >= params.delete_misses)

    # 6 (cont.): deletion by position std (confirmed tracks, or tentative ones seen twice).
    lim = params.max_pos_sigma_m**2
    maybe = (pos_cov[0] + pos_cov[4] + pos_cov[8] >= lim * (1.0 - _MARGIN)).nonzero()[0]
    if maybe.size:  # lambda_max <= trace: the others are narrow
        maybe = maybe[~tentative[maybe] | (hits_c[maybe] >= 2)]
    if maybe.size:

        def exact_cov(idx: np.ndarray) -> np.ndarray:
            """Position block of P at t as the filter has it (updated, else predicted)."""
            cov = _predict(tracks.x[ci[idx]], P_rows[idx].reshape(-1, 6, 6), dt[idx], accel)[1]
            cov = cov[:, :3, :3]
            upd = assigned[idx]
            if upd.any():
                cov[upd] = Pu[np.searchsorted(a, idx[upd]), :3, :3]
            return cov

        gone[_wide(pos_cov, maybe, exact_cov, params.max_pos_sigma_m)] = True
    gone_idx = gone.nonzero()[0]
    del_conf = gone_idx[~tentative[gone_idx]]
    deleted_ids = tracks.track_id[ci[del_conf]]
    confirmed_slots = ci[newly]

    status, track_id = tracks.status, tracks.track_id
    hits, misses, n_scans = tracks.hits, tracks.misses, tracks.n_scans
    if touched.any():
        hits, misses = _scatter(hits, ci, hits_c), _scatter(misses, ci, misses_c)
        n_scans = _scatter(n_scans, ci, scans_c)
    if gone_idx.size:
        status_c[gone_idx] = TRACK_FREE
        track_id = _scatter(track_id, ci[gone_idx], -1)
    if gone_idx.size or confirmed_slots.size:
        status = _scatter(status, ci, status_c)

    # 7: one-point initiation from the plots left.
    t_init = tracks.t_init
    new_plots = free.nonzero()[0]
    n_new = 0
    if new_plots.size:
        free_slots = (status == TRACK_FREE).nonzero()[0]
        n_new = min(new_plots.size, free_slots.size)
        ns, npl = free_slots[:n_new], new_plots[:n_new]
        new_ids = np.arange(tracks.next_id, tracks.next_id + n_new, dtype=_I64)
        x_new = np.zeros((n_new, 6))
        x_new[:, :3] = zc[npl]
        P_new = np.zeros((n_new, 6, 6))
        P_new[:, :3, :3] = R[npl]
        P_new[:, 3:, 3:] = _EYE3 * params.init_speed_sigma_mps**2
        x, P = _scatter(x, ns, x_new), _scatter(P, ns, P_new)
        t_update, t_init = _scatter(t_update, ns, t), _scatter(t_init, ns, t)
        # M-of-N met by the first plot when confirm_m <= 1.
        first = TRACK_CONFIRMED if params.confirm_m <= 1 <= params.confirm_n else TRACK_TENTATIVE
        status = _scatter(status, ns, first)
        track_id = _scatter(track_id, ns, new_ids)
        hits, misses = _scatter(hits, ns, 1), _scatter(misses, ns, 0)
        n_scans = _scatter(n_scans, ns, 1)
        plot_track_id[npl] = new_ids
        if first == TRACK_CONFIRMED:
            confirmed_slots = np.concatenate([confirmed_slots, ns])

    out = Tracks(
        x=x,
        P=P,
        t_update=t_update,
        t_init=t_init,
        hits=hits,
        misses=misses,
        n_scans=n_scans,
        status=status,
        track_id=track_id,
        next_id=int(tracks.next_id + n_new),
    )
    info = StepInfo(
        updated=int(a.size),
        initiated=n_new,
        confirmed=int(confirmed_slots.size),
        deleted_confirmed=int(del_conf.size),
        deleted_tentative=int(gone_idx.size - del_conf.size),
        out_of_sequence=int(li.size),
        overflow=int(new_plots.size - n_new),
        absorbed=absorbed,
        confirmed_ids=track_id[confirmed_slots],
        deleted_ids=deleted_ids,
        plot_track_id=plot_track_id,
    )
    return out, info


def _absorb(
    tracks: Tracks,
    li: np.ndarray,
    t: float,
    zc: np.ndarray,
    R: np.ndarray,
    free: np.ndarray,
    params: TrackerParams,
) -> int:
    """Mark as used (in ``free``) the plots that gate with the out-of-sequence tracks ``li``.

    Retrodiction ``F(t - t_update) x``, ``F P F^T + Q(|t - t_update|)``, then GNN. Returns the
    number of plots absorbed.
    """
    dtl = t - tracks.t_update[li]
    F = cv_transition(dtl)
    xl = np.einsum("kij,kj->ki", F, tracks.x[li])
    Pl = F @ tracks.P[li] @ np.swapaxes(F, -1, -2)
    Pl = Pl + cv_process_noise(np.abs(dtl), params.accel_sigma_mps2)
    cols = np.flatnonzero(free)
    _r, c = gnn(gate_costs(xl, Pl, zc[cols], R[cols], _gate_threshold(params.gate_prob)))
    free[cols[c]] = False
    return int(c.size)
