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

The step never mutates its input and never reads truth.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from iadsim import geo
from iadsim.params import TrackerParams
from iadsim.state import TRACK_CONFIRMED, TRACK_FREE, TRACK_TENTATIVE, Tracks
from iadsim.tracking.associate import gate_costs, gnn
from iadsim.tracking.kalman import (
    convert_measurements,
    cv_process_noise,
    cv_transition,
    predict,
    update,
)

_I64 = np.int64


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


def _in_coverage(
    radar_pos: np.ndarray, pos: np.ndarray, max_range_m: float, min_el: float, max_el: float
) -> np.ndarray:
    zp = geo.radar_polar(radar_pos, pos)
    return (
        geo.line_of_sight(radar_pos, pos)
        & (zp[:, 0] <= max_range_m)
        & (zp[:, 2] >= min_el)
        & (zp[:, 2] <= max_el)
    )


def _associate(
    xp: np.ndarray,
    Pp: np.ndarray,
    zc: np.ndarray,
    R: np.ndarray,
    stages: list[np.ndarray],
    gate: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Staged GNN. Returns ``plot_of [K]`` (plot index or -1) and ``free [D]`` plots left."""
    plot_of = np.full(xp.shape[0], -1, dtype=_I64)
    free = np.ones(zc.shape[0], dtype=bool)
    for rows in stages:
        cols = np.flatnonzero(free)
        if rows.size == 0 or cols.size == 0:
            continue
        r, c = gnn(gate_costs(xp[rows], Pp[rows], zc[cols], R[cols], gate))
        plot_of[rows[r]] = cols[c]
        free[cols[c]] = False
    return plot_of, free


def _pos_sigma(P: np.ndarray) -> np.ndarray:
    """sqrt of the largest eigenvalue of the position block: std along the worst axis [m]."""
    if P.shape[0] == 0:
        return np.zeros(0)
    return np.sqrt(np.maximum(np.linalg.eigvalsh(P[:, :3, :3])[:, -1], 0.0))


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
    x, P = tracks.x.copy(), tracks.P.copy()
    t_update, t_init = tracks.t_update.copy(), tracks.t_init.copy()
    hits, misses, n_scans = tracks.hits.copy(), tracks.misses.copy(), tracks.n_scans.copy()
    status, track_id = tracks.status.copy(), tracks.track_id.copy()
    gate = _gate_threshold(params.gate_prob)

    # 1-3: split live tracks, predict, coverage.
    live = status != TRACK_FREE
    late = live & (t_update > t)
    ci = np.flatnonzero(live & ~late)
    xp, Pp = predict(x[ci], P[ci], t - t_update[ci], params.accel_sigma_mps2)
    in_cov = _in_coverage(radar_pos, xp[:, :3], max_range_m, min_el_rad, max_el_rad)
    zc, R = convert_measurements(radar_pos, z, sigma)

    # 4: staged GNN, confirmed tracks first.
    st = status[ci]
    stages = [np.flatnonzero(st == TRACK_CONFIRMED), np.flatnonzero(st == TRACK_TENTATIVE)]
    plot_of, free = _associate(xp, Pp, zc, R, stages, gate)

    # 5: update, misses, scans.
    a = np.flatnonzero(plot_of >= 0)
    xu, Pu = update(xp[a], Pp[a], zc[plot_of[a]], R[plot_of[a]])
    slots = ci[a]
    x[slots], P[slots], t_update[slots] = xu, Pu, t
    hits[slots] += 1
    misses[slots] = 0
    plot_track_id = np.full(z.shape[0], -1, dtype=_I64)
    plot_track_id[plot_of[a]] = track_id[slots]
    assigned = plot_of >= 0
    misses[ci[in_cov & ~assigned]] += 1
    n_scans[ci[(in_cov | assigned) & (st == TRACK_TENTATIVE)]] += 1

    # 1 (cont.): plots that belong to out-of-sequence tracks are absorbed.
    absorbed = 0
    li = np.flatnonzero(late)
    if li.size and free.any():
        dtl = t - t_update[li]
        F = cv_transition(dtl)
        xl = np.einsum("kij,kj->ki", F, x[li])
        Pl = F @ P[li] @ np.swapaxes(F, -1, -2)
        Pl = Pl + cv_process_noise(np.abs(dtl), params.accel_sigma_mps2)
        cols = np.flatnonzero(free)
        _r, c = gnn(gate_costs(xl, Pl, zc[cols], R[cols], gate))
        free[cols[c]] = False
        absorbed = int(c.size)

    # 6: confirm, then delete.
    newly = ci[_confirmable(hits[ci], n_scans[ci], status[ci], params)]
    status[newly] = TRACK_CONFIRMED
    P_t = Pp.copy()
    P_t[a] = Pu
    too_wide = _pos_sigma(P_t) > params.max_pos_sigma_m
    st = status[ci]
    del_conf = ci[(st == TRACK_CONFIRMED) & ((misses[ci] >= params.delete_misses) | too_wide)]
    del_tent = ci[
        (st == TRACK_TENTATIVE) & ((n_scans[ci] >= params.confirm_n) | ((hits[ci] >= 2) & too_wide))
    ]
    deleted_ids = track_id[del_conf].copy()
    for gone in (del_conf, del_tent):
        status[gone] = TRACK_FREE
        track_id[gone] = -1

    # 7: one-point initiation from the plots left.
    new_plots = np.flatnonzero(free)
    free_slots = np.flatnonzero(status == TRACK_FREE)
    n_new = min(new_plots.size, free_slots.size)
    ns, npl = free_slots[:n_new], new_plots[:n_new]
    new_ids = tracks.next_id + np.arange(n_new, dtype=_I64)
    x[ns] = np.concatenate([zc[npl], np.zeros((n_new, 3))], axis=1)
    P[ns] = 0.0
    P[ns, :3, :3] = R[npl]
    P[ns, 3:, 3:] = np.eye(3) * params.init_speed_sigma_mps**2
    t_update[ns], t_init[ns] = t, t
    hits[ns], misses[ns], n_scans[ns] = 1, 0, 1
    status[ns], track_id[ns] = TRACK_TENTATIVE, new_ids
    plot_track_id[npl] = new_ids
    newly_too = ns[_confirmable(hits[ns], n_scans[ns], status[ns], params)]  # confirm_m <= 1
    status[newly_too] = TRACK_CONFIRMED
    confirmed_slots = np.concatenate([newly, newly_too])

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
        initiated=int(n_new),
        confirmed=int(confirmed_slots.size),
        deleted_confirmed=int(del_conf.size),
        deleted_tentative=int(del_tent.size),
        out_of_sequence=int(li.size),
        overflow=int(new_plots.size - n_new),
        absorbed=absorbed,
        confirmed_ids=track_id[confirmed_slots].astype(_I64),
        deleted_ids=deleted_ids.astype(_I64),
        plot_track_id=plot_track_id,
    )
    return out, info


def _confirmable(
    hits: np.ndarray, n_scans: np.ndarray, status: np.ndarray, params: TrackerParams
) -> np.ndarray:
    """M-of-N test: tentative, ``hits >= confirm_m`` within ``n_scans <= confirm_n``."""
    return (status == TRACK_TENTATIVE) & (hits >= params.confirm_m) & (n_scans <= params.confirm_n)
