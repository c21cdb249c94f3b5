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

Implementation (per-call cost, not the maths; see ``stages``): a scan has a few dozen tracks
and a few plots, so the cost is the number of NumPy calls, not their size.

- The live slots are gathered once (tracks last) and the changed fields written back once;
  unchanged fields are shared with the input, and the integer fields are returned as rows of
  one new ``[5, capacity]`` array.
- Coverage, gating and the position-std screen use the closed-form position prediction
  (``kalman.predict_position``). Only the tracks that get a plot go through the 6x6
  :func:`~iadsim.tracking.kalman.predict` and :func:`~iadsim.tracking.kalman.update`, so the
  stored ``x, P`` are exactly the filter's.
- Gating and GNN are the shared kernel's (``core.gate_pairs``, ``core.gnn``): a per-axis
  screen, then a k-d tree over the plots when the problem is large.
- The position-std test decides from eigenvalue bounds and runs ``eigvalsh`` on the filter's
  own position block only where the threshold lies between them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from iadsim.params import TrackerParams
from iadsim.state import TRACK_CONFIRMED, TRACK_FREE, TRACK_TENTATIVE, Tracks
from iadsim.tracking import imm3, stages, sym3
from iadsim.tracking.kalman import (
    _predict,
    _predict_update,
    convert_measurements,
    predict_position,
)

_I64 = np.int64
_EMPTY = np.zeros(0, dtype=_I64)
assert TRACK_FREE == 0  # tracker_step finds the live slots with status.nonzero()
_HITS, _MISSES, _SCANS, _STATUS, _ID = range(5)  # rows of the integer block


@functools.lru_cache(maxsize=64)
def _gate_threshold(prob: float) -> float:
    """Chi-square gate for a 3-D innovation (computed once per gate probability)."""
    return float(chi2.ppf(prob, 3))


@functools.lru_cache(maxsize=64)
def _initial_cov(init_speed_sigma: float) -> np.ndarray:
    """``blockdiag(0, init_speed_sigma^2 I3)``, read-only: ``P`` of a new track before ``R``."""
    P = np.zeros((6, 6))
    P[3:, 3:] = np.eye(3) * init_speed_sigma**2
    P.flags.writeable = False
    return P


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

    # 1-3: split live tracks, predict positions, coverage. Lists and arrays over ``ci``.
    live = tracks.status.nonzero()[0]  # status != TRACK_FREE (== 0)
    dt = t - tracks.t_update[live]
    li, ci = _EMPTY, live
    if dt.size and dt.min() < 0.0:  # t_update > t
        late = dt < 0.0
        li, ci, dt = live[late], live[~late], dt[~late]
    P_rows = tracks.P.reshape(-1, 36).take(ci, axis=0)  # [n, 36]
    use_imm = tracks.mu is not None
    if use_imm:  # the combined IMM prediction serves coverage and gating (imm3)
        cbar, xp, Pp, x_pred, P_pred = imm3.predict(
            tracks.xm[ci], tracks.Pm[ci], tracks.mu[ci], dt,
            (accel, float(params.manoeuvre_accel_sigma_mps2)), float(params.imm_p_stay))
        pos = np.ascontiguousarray(x_pred[:, :3].T)
        pos_cov = np.ascontiguousarray(P_pred[:, :3, :3].reshape(-1, 9).T)
        gate_cov = imm3.gate_covariance(xp, Pp, x_pred)
    else:
        pos, pos_cov = predict_position(tracks.x.T.take(ci, axis=1), P_rows.T, dt, accel)
        gate_cov = pos_cov
    touched = stages.in_coverage(radar_pos, pos, max_range_m, min_el_rad, max_el_rad)
    ints = np.array([tracks.hits, tracks.misses, tracks.n_scans, tracks.status, tracks.track_id])
    cols = ints.take(ci, axis=1).tolist()  # the new integer fields, and their live columns

    # 4: staged GNN, confirmed tracks first.
    a: list[int] = []  # assigned tracks (indices into ci, increasing) ...
    pa: list[int] = []  # ... and their plots
    zc = R = None
    if n_plots:
        zc, R = convert_measurements(radar_pos, z, sigma)
        if ci.size:
            gate = _gate_threshold(params.gate_prob)
            a, pa = stages.associate(pos, gate_cov, cols[_STATUS], zc, R, gate)

    # 5: update (the full filter, on the assigned tracks only).
    x, P, t_update, t_init = tracks.x, tracks.P, tracks.t_update, tracks.t_init
    mu, xm, Pm = tracks.mu, tracks.xm, tracks.Pm
    plot_track_id = [-1] * n_plots
    Pu = None
    if a:
        ia, ipa = np.array(a), np.array(pa)
        slots = ci.take(ia)
        if use_imm:
            mu_u, xm_u, Pm_u, xu, Pu = imm3.update(cbar[ia], xp[ia], Pp[ia], zc.take(ipa, axis=0),
                                                   R.take(ipa, axis=0))
            mu, xm, Pm = mu.copy(), xm.copy(), Pm.copy()
            mu[slots], xm[slots], Pm[slots] = mu_u, xm_u, Pm_u
        else:
            xu, Pu = _predict_update(
                x.take(slots, axis=0),
                P.take(slots, axis=0),
                dt.take(ia),
                accel,
                zc.take(ipa, axis=0),
                R.take(ipa, axis=0),
            )
        x, P, t_update = x.copy(), P.copy(), t_update.copy()
        x[slots], P[slots], t_update[slots] = xu, Pu, t
        pos_cov[:, ia] = Pu[:, :3, :3].reshape(-1, 9).T  # P at t: updated where updated
        ids = cols[_ID]
        for k, d in zip(a, pa, strict=True):
            plot_track_id[d] = ids[k]
            touched[k] = 2

    # 1 (cont.): plots that belong to out-of-sequence tracks are absorbed.
    free = list(range(n_plots))  # plots left, increasing
    if pa:
        taken = set(pa)
        free = [d for d in free if d not in taken]
    absorbed = 0
    if li.size and free:
        left = stages.absorb(tracks, li, t, zc, R, free, params, _gate_threshold(params.gate_prob))
        absorbed, free = len(free) - len(left), left

    # 5-6: counters, confirmation, deletion by counters.
    newly, gone, changed = stages.count(cols[:4], touched, params)
    hits_c, status_c = cols[_HITS], cols[_STATUS]

    # 6 (cont.): deletion by position std (confirmed tracks, or tentative ones seen twice),
    # screened by lambda_max <= trace.
    lim = params.max_pos_sigma_m**2
    maybe = (sym3.trace(pos_cov) >= lim * (1.0 - stages.MARGIN)).nonzero()[0]
    maybe = [k for k in maybe.tolist() if status_c[k] == TRACK_CONFIRMED or hits_c[k] >= 2]
    if maybe:
        row_of_update = {k: j for j, k in enumerate(a)}

        def exact_cov(idx: list[int]) -> np.ndarray:
            """Position block of P at t as the filter has it (updated, else predicted)."""
            i = np.array(idx)
            if use_imm:
                cov = P_pred[i, :3, :3].copy()
            else:
                cov = _predict(tracks.x[ci[i]], P_rows[i].reshape(-1, 6, 6), dt[i], accel)[1]
                cov = cov[:, :3, :3]
            for j, k in enumerate(idx):
                if k in row_of_update:
                    cov[j] = Pu[row_of_update[k], :3, :3]
            return cov

        wide = stages.too_wide(pos_cov, maybe, exact_cov, params.max_pos_sigma_m)
        gone = sorted(set(gone).union(wide))
        changed = sorted(set(changed).union(wide))
    ids = cols[_ID]
    deleted_ids = [ids[k] for k in gone if status_c[k] == TRACK_CONFIRMED]
    for k in gone:
        status_c[k] = TRACK_FREE
        ids[k] = -1
    if len(changed) > 4:
        ints[:, ci[changed]] = [[col[k] for k in changed] for col in cols]
    else:  # a few columns: basic indexing is cheaper than one fancy assignment
        for k in changed:
            ints[:, ci[k]] = [col[k] for col in cols]
    confirmed_slots = ci[newly].tolist() if newly else []

    # 7: one-point initiation from the plots left.
    n_new = 0
    if free:
        free_slots = (ints[_STATUS] == TRACK_FREE).nonzero()[0]
        n_new = min(len(free), free_slots.size)
        ns, npl = free_slots[:n_new], free[:n_new]
        new_ids = list(range(tracks.next_id, tracks.next_id + n_new))
        if x is tracks.x:
            x, P, t_update = x.copy(), P.copy(), t_update.copy()
        x_new = np.zeros((n_new, 6))
        x_new[:, :3] = zc.take(npl, axis=0)
        P_new = _initial_cov(params.init_speed_sigma_mps)[None].repeat(n_new, axis=0)
        P_new[:, :3, :3] = R.take(npl, axis=0)
        x[ns], P[ns], t_update[ns] = x_new, P_new, t
        if use_imm:
            if mu is tracks.mu:
                mu, xm, Pm = mu.copy(), xm.copy(), Pm.copy()
            mu[ns] = imm3.mu0()
            xm[ns] = x_new[:, None]
            Pm[ns] = P_new[:, None]
        t_init = t_init.copy()
        t_init[ns] = t
        # hits = 1, misses = 0, n_scans = 1; M-of-N met by the first plot when confirm_m <= 1.
        first = TRACK_CONFIRMED if params.confirm_m <= 1 <= params.confirm_n else TRACK_TENTATIVE
        ints[:4, ns] = [[1], [0], [1], [first]]
        ints[_ID, ns] = new_ids
        for d, tid in zip(npl, new_ids, strict=True):
            plot_track_id[d] = tid
        if first == TRACK_CONFIRMED:
            confirmed_slots += ns.tolist()

    hits, misses, n_scans, status, track_id = ints
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
        mu=mu,
        xm=xm,
        Pm=Pm,
    )
    info = StepInfo(
        updated=len(a),
        initiated=n_new,
        confirmed=len(confirmed_slots),
        deleted_confirmed=len(deleted_ids),
        deleted_tentative=len(gone) - len(deleted_ids),
        out_of_sequence=int(li.size),
        overflow=len(free) - n_new,
        absorbed=absorbed,
        confirmed_ids=track_id[confirmed_slots] if confirmed_slots else _EMPTY.copy(),
        deleted_ids=np.array(deleted_ids, dtype=_I64) if deleted_ids else _EMPTY.copy(),
        plot_track_id=np.array(plot_track_id, dtype=_I64),
    )
    return out, info
