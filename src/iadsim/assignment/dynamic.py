"""Dynamic engagement planning: the assignment problem of one frame, built and solved.

Each assign phase builds a small weapon-target problem from the world as it stands
(:func:`build_frame`) and solves it (:data:`SOLVERS`). The problem is a *frame*:

* candidates ``c = (unit b, interceptor w, track k)`` that are feasible now: the unit is up,
  the track is eligible under the doctrine, the collision-course intercept (reaction time +
  fly-out, :func:`iadsim.engagement.predicted_intercept`; under gravity for tracks classed
  ballistic) lies inside the weapon's envelope for
  the track's perceived category and before its predicted impact, and the predicted intercept
  point is known to within the seeker basket (fire-control quality gate);
* the gain of ``c``, a salvo of ``n`` rounds, is its marginal return (den Broeder, Ellison &
  Emerling, Operations Research 7(3), 1959):

      g_c = value_k * S_k * (1 - (1 - Pk[w, category_k])^n)

  with ``S_k`` the probability that the track survives the rounds already in flight at it
  (1 unless the doctrine fires before looking, ``shoot-shoot-look``). With ``priority: time``
  the gain is divided by the time to impact (``max(tti, 1 s)``): value per second left;
* limits: each track gets at most one new salvo per frame; unit ``b`` starts at most
  ``channels[b]`` salvos (its free fire channels); unit ``b`` fires at most ``salvos[b, w]``
  salvos of type ``w`` (``ready // n``, or one short salvo when fewer than ``n`` are ready);
  a unit considers only its ``tracks_max`` best tracks (by its best gain on them).

With one salvo per track per frame the gains add up, so a frame is a linear problem: a
maximum-weight flow source -> unit (channels) -> unit x interceptor (salvos) -> track (1) ->
sink, whose constraint matrix is totally unimodular. :func:`solve_optimal` solves it exactly:

1. if the greedy answer gives every track its best candidate, it is optimal (an upper bound is
   met) and is returned;
2. if no unit's interceptor stock binds (``salvos[b, w] >= channels[b]`` for every type it
   could fire), the frame is an assignment problem on the channel-expanded unit x track matrix
   (each free channel of ``b`` is a row, each track a column, weight ``max_w g_(b, w, k)``),
   solved by ``scipy.optimize.linear_sum_assignment`` (Jonker-Volgenant);
3. otherwise the flow is solved as a binary program by ``scipy.optimize.milp`` (HiGHS); its LP
   relaxation is already integral.

All three are exact and deterministic (no wall-clock budget: the frame is small, at most
``sum_b tracks_max[b] * W`` candidates). :func:`solve_greedy` is the greedy maximum marginal
return (candidates in decreasing gain, ties by lower cost, earlier intercept, unit, track).
Tiny gain offsets (``1e-9`` relative) make the optimum prefer cheaper rounds and earlier
intercepts among equal gains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp

from iadsim.catalog import THREAT_CLASSES
from iadsim.engagement import predicted_intercept
from iadsim.kinematics import G
from iadsim.params import Params
from iadsim.state import (
    TRACK_CONFIRMED,
    Assessment,
    Engagements,
    FireUnits,
    InFlight,
    Tracks,
)

BALLISTIC = THREAT_CLASSES.index("ballistic")
HYPERSONIC = THREAT_CLASSES.index("hypersonic")
UAV = THREAT_CLASSES.index("uav")
PRESERVE_LOOKS = 8  # future decision times at which a cheaper layer is tried (preserve)
TIE = 1e-9  # relative gain offsets that break ties between equal gains


@dataclass(frozen=True, slots=True)
class Plan:
    """Salvos decided this frame (arrays of length A)."""

    unit: np.ndarray  # [A] int
    weapon: np.ndarray  # [A] int
    track: np.ndarray  # [A] int, track slot
    rounds: np.ndarray  # [A] int
    launch_t: np.ndarray  # [A] s, decision time + reaction time
    intercept_t: np.ndarray  # [A] s
    aim: np.ndarray  # [A, 3] m, predicted intercept point

    def __len__(self) -> int:
        return int(self.unit.shape[0])


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame's assignment problem: C candidate salvos, in greedy order (best first)."""

    unit: np.ndarray  # [C] int
    weapon: np.ndarray  # [C] int
    track: np.ndarray  # [C] int, track slot
    rounds: np.ndarray  # [C] int, rounds in the salvo
    gain: np.ndarray  # [C] objective weight (marginal return, tie offsets included)
    lead: np.ndarray  # [C] s, reaction + fly-out time
    aim: np.ndarray  # [C, 3] m, predicted intercept point
    channels: np.ndarray  # [B] int, free fire channels
    salvos: np.ndarray  # [B, W] int, salvos each unit can still fire of each type

    def __len__(self) -> int:
        return int(self.unit.shape[0])


def objective(frame: Frame, chosen: np.ndarray) -> float:
    """Total gain of the chosen candidates ([C] bool)."""
    return float(frame.gain[chosen].sum())


def is_feasible(frame: Frame, chosen: np.ndarray) -> bool:
    """One salvo per track, channels and salvos per unit and type respected."""
    c = np.flatnonzero(chosen)
    if len(np.unique(frame.track[c])) < len(c):
        return False
    per_unit = np.bincount(frame.unit[c], minlength=len(frame.channels))
    per_type = np.zeros_like(frame.salvos)
    np.add.at(per_type, (frame.unit[c], frame.weapon[c]), 1)
    return bool((per_unit <= frame.channels).all() and (per_type <= frame.salvos).all())


def solve_greedy(frame: Frame) -> np.ndarray:
    """Greedy maximum marginal return: walk the candidates best first, take what still fits."""
    chosen = np.zeros(len(frame), dtype=bool)
    chan = frame.channels.copy()
    stock = frame.salvos.copy()
    taken: set[int] = set()
    for c in range(len(frame)):
        b, w, k = int(frame.unit[c]), int(frame.weapon[c]), int(frame.track[c])
        if k in taken or chan[b] <= 0 or stock[b, w] <= 0:
            continue
        chosen[c] = True
        taken.add(k)
        chan[b] -= 1
        stock[b, w] -= 1
        if not (chan > 0).any():
            break
    return chosen


def solve_optimal(frame: Frame) -> np.ndarray:
    """Exact maximum-gain plan of the frame (see the module docstring for the three steps)."""
    greedy = solve_greedy(frame)
    if len(frame) == 0:
        return greedy
    tracks, first = np.unique(frame.track, return_index=True)
    best = np.zeros(len(frame), dtype=bool)
    best[first] = True  # candidates are in greedy order: the first per track is its best
    if objective(frame, greedy) >= frame.gain[first].sum() - 1e-12 * abs(frame.gain).sum():
        return greedy
    used = np.zeros_like(frame.salvos, dtype=bool)
    used[frame.unit, frame.weapon] = True
    binds = (used & (frame.salvos < frame.channels[:, None])).any()
    chosen = _milp(frame) if binds else _assignment(frame, tracks)
    # the optimum is never below greedy; guard against solver round-off all the same
    return chosen if objective(frame, chosen) >= objective(frame, greedy) else greedy


def _assignment(frame: Frame, tracks: np.ndarray) -> np.ndarray:
    """Channel-expanded unit x track assignment (stock does not bind)."""
    col = np.searchsorted(tracks, frame.track)
    units = np.unique(frame.unit)
    rows_of: list[int] = []
    best_c = np.full((len(units), len(tracks)), -1, dtype=np.int64)
    for i, b in enumerate(units):
        cand = np.flatnonzero(frame.unit == b)
        # candidates are in greedy order: keep the first (best) one per track
        _, first = np.unique(col[cand], return_index=True)
        best_c[i, col[cand[first]]] = cand[first]
        rows_of += [i] * int(min(frame.channels[b], len(first)))
    rows = np.array(rows_of, dtype=np.int64)
    weight = np.where(best_c[rows] >= 0, frame.gain[np.maximum(best_c[rows], 0)], 0.0)
    r, c = linear_sum_assignment(weight, maximize=True)
    pick = best_c[rows[r], c]
    chosen = np.zeros(len(frame), dtype=bool)
    chosen[pick[pick >= 0]] = True
    return chosen


def _milp(frame: Frame) -> np.ndarray:
    """The frame as a binary program (HiGHS); the constraint matrix is totally unimodular."""
    n = len(frame)
    _, tk = np.unique(frame.track, return_inverse=True)
    b_w = frame.unit * frame.salvos.shape[1] + frame.weapon
    keys, bw = np.unique(b_w, return_inverse=True)
    a = np.zeros((tk.max() + 1 + len(frame.channels) + len(keys), n))
    a[tk, np.arange(n)] = 1.0
    a[tk.max() + 1 + frame.unit, np.arange(n)] = 1.0
    a[tk.max() + 1 + len(frame.channels) + bw, np.arange(n)] = 1.0
    ub = np.concatenate([np.ones(tk.max() + 1), frame.channels,
                         frame.salvos.ravel()[keys]]).astype(float)
    res = milp(-frame.gain, constraints=LinearConstraint(a, -np.inf, ub),
               integrality=np.ones(n), bounds=Bounds(0, 1))
    if res.x is None:  # pragma: no cover - the empty plan is always feasible
        return np.zeros(n, dtype=bool)
    return res.x > 0.5


SOLVERS: dict[str, Callable[[Frame], np.ndarray]] = {
    "optimal": solve_optimal,
    "greedy": solve_greedy,
}


def eligible_tracks(t: float, tracks: Tracks, eng: Engagements, flying: InFlight,
                    assessment: Assessment, params: Params) -> np.ndarray:
    """[K] bool: tracks the doctrine allows some fire unit to engage now.

    * confirmed, updated at least ``min_hits`` times, worth it (``value > hold_below_value``,
      finite time to impact), and not yet engaged ``max_engagements`` times by every unit;
    * no salvo in flight and *looked at* after the last one (never fired at, or the look
      delay past its intercept has passed and a measurement has updated the track since: it
      survived); or, under shoot-shoot-look (``volley = 2``), salvos in flight but fewer than
      ``volley`` fired since the last look.
    """
    d = params.doctrine
    fired = eng.shots.sum(axis=1) > 0
    looked = ~fired | ((t >= eng.last_intercept_t + d.look_s)
                       & (tracks.t_update > eng.last_intercept_t))
    ready = np.where(flying.salvos == 0, looked, eng.volley < d.volley)
    return ((tracks.status == TRACK_CONFIRMED) & (tracks.hits >= d.min_hits) & ready
            & (eng.shots < d.max_engagements).any(axis=1)
            & (assessment.value > d.min_value) & np.isfinite(assessment.tti))


def _geometry(params: Params, p: np.ndarray, v: np.ndarray, cat: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[B, W, K] lead time, aim point [B, W, K, 3] and envelope check for tracks at ``p, v``."""
    up, w, d = params.units, params.weapons, params.doctrine
    shape = (len(up.name), len(w.name), len(p))
    tau = np.broadcast_to(up.reaction_time_s[:, None, None], shape)
    acc = np.zeros_like(p)
    acc[cat == BALLISTIC, 2] = -G  # ballistic tracks are predicted under gravity
    t_f = predicted_intercept(p[None, None], v[None, None], up.pos[:, None, None], tau,
                              w.speed_mps[None, :, None], acc[None, None])
    lead = tau + t_f
    t_aim = np.where(np.isfinite(lead), lead, 0.0)[..., None]
    aim = p[None, None] + v[None, None] * t_aim + 0.5 * acc[None, None] * t_aim**2
    rng_m = np.linalg.norm(aim - up.pos[:, None, None], axis=-1)
    height = aim[..., 2] - up.pos[:, None, None, 2]
    speed = np.linalg.norm(v, axis=-1)
    inside = (np.isfinite(t_f)
              & (rng_m >= w.min_range_m[None, :, None])
              & (rng_m <= d.range_margin * w.max_range_m[:, cat][None])
              & (height >= w.min_alt_m[None, :, None]) & (height <= w.max_alt_m[None, :, None])
              & (speed[None, None] <= w.max_target_speed_mps[None, :, None])
              & (w.pk[:, cat][None] > 0))
    return lead, aim, inside


def _cheaper_layer_covers(params: Params, units: FireUnits, p: np.ndarray, v: np.ndarray,
                          cat: np.ndarray, tti: np.ndarray) -> np.ndarray:
    """[K] bool: a short-range weapon with rounds left can engage the track now or later.

    The track is extrapolated in a straight line to ``PRESERVE_LOOKS`` decision times between
    now and its predicted impact; at each, the collision-course intercept of every unit and
    short-range interceptor (max range at most ``long_range_km``) with rounds (ready, reserve
    or reloading) is checked against the envelope and the time to impact. Track quality and
    channels are not checked: they may change by then.
    """
    w = params.weapons
    short = w.max_range_m.max(axis=1) <= params.doctrine.long_range_m
    stock = units.ready + units.reserve
    stock[np.arange(len(units.reload_type)), units.reload_type] += units.reload_n
    has = params.units.has_weapon & (stock > 0) & short[None, :] & units.up[:, None]
    covers = np.zeros(len(p), dtype=bool)
    if not has.any() or len(p) == 0:
        return covers
    for j in range(PRESERVE_LOOKS):
        s = tti * j / PRESERVE_LOOKS
        lead, _, inside = _geometry(params, p + v * s[:, None], v, cat)
        ok = inside & has[..., None] & (s[None, None] + lead < tti[None, None])
        covers |= ok.any(axis=(0, 1))
    return covers


def build_frame(t: float, tracks: Tracks, assessment: Assessment, eng: Engagements,
                flying: InFlight, units: FireUnits, params: Params) -> Frame:
    """The frame's candidates, gains and limits (module docstring)."""
    up, w, d = params.units, params.weapons, params.doctrine
    free = np.where(units.up, up.channels - units.busy_channels, 0).astype(np.int64)
    n_rounds = np.minimum(d.salvo, units.ready)  # [B, W] rounds in the next salvo
    salvos = np.where(units.ready >= d.salvo, units.ready // d.salvo,
                      (units.ready > 0).astype(np.int64))
    salvos = np.where(up.has_weapon, salvos, 0)
    k_ok = np.flatnonzero(eligible_tracks(t, tracks, eng, flying, assessment, params))
    if len(k_ok) == 0 or not ((free > 0)[:, None] & (salvos > 0)).any():
        return _empty_frame(free, salvos)

    # track state extrapolated to now
    age = t - tracks.t_update[k_ok]
    p = tracks.x[k_ok, :3] + tracks.x[k_ok, 3:] * age[:, None]
    v = tracks.x[k_ok, 3:]
    cat = assessment.category[k_ok]
    tti = assessment.tti[k_ok]
    # track quality: position and velocity std (rms over axes) at the last update
    pv = tracks.P[k_ok]
    sig_p = np.sqrt(np.trace(pv[:, :3, :3], axis1=1, axis2=2) / 3.0)
    sig_v = np.sqrt(np.trace(pv[:, 3:, 3:], axis1=1, axis2=2) / 3.0)

    lead, aim, inside = _geometry(params, p, v, cat)
    pip_sigma = sig_p[None, None] + (lead + age[None, None]) * sig_v[None, None]
    feasible = (inside & (lead < tti[None, None]) & (pip_sigma <= d.kill_radius_m)
                & (salvos > 0)[..., None] & (free > 0)[:, None, None]
                & (eng.shots[k_ok].T < d.max_engagements)[:, None, :])
    if d.preserve:
        long = w.max_range_m.max(axis=1) > d.long_range_m  # [W]
        spare = cat == UAV
        # only tracks a long-range round could be fired at now need the look ahead
        ask = (feasible[:, long].any(axis=(0, 1)) & ~spare & (cat != BALLISTIC)
               & (cat != HYPERSONIC))
        if ask.any():
            spare[ask] = _cheaper_layer_covers(params, units, p[ask], v[ask], cat[ask],
                                               tti[ask])
        feasible &= ~(long[None, :, None] & spare[None, None, :])
    if not feasible.any():
        return _empty_frame(free, salvos)

    pk = w.pk[:, cat][None]  # [1, W, K]
    worth = assessment.value[k_ok] * flying.survival[k_ok]
    if d.priority == "time":
        worth = worth / np.maximum(tti, 1.0)
    gain = worth[None, None] * (1.0 - (1.0 - pk) ** n_rounds[..., None])  # [B, W, K]

    b_i, w_i, k_i = np.nonzero(feasible)
    g = gain[b_i, w_i, k_i]
    ld = lead[b_i, w_i, k_i]
    cost = w.cost_usd[w_i]
    # ties: cheaper round, then earlier intercept (relative offsets far below any real gap)
    scale = max(float(g.max()), 1e-300)
    g = g - TIE * scale * (cost / max(float(w.cost_usd.max()), 1.0)
                           + 1e-3 * ld / max(float(ld.max()), 1.0))
    order = np.lexsort((k_i, b_i, ld, cost, -g))
    b_i, w_i, k_i, g = b_i[order], w_i[order], k_i[order], g[order]

    # a unit considers only its tracks_max best tracks (by its best gain on them)
    keep = np.zeros(len(order), dtype=bool)
    for b in np.unique(b_i):
        mine = np.flatnonzero(b_i == b)
        _, first = np.unique(k_i[mine], return_index=True)
        best_tracks = k_i[mine][np.sort(first)][: int(up.tracks_max[b])]
        keep[mine[np.isin(k_i[mine], best_tracks)]] = True
    b_i, w_i, k_i, g = b_i[keep], w_i[keep], k_i[keep], g[keep]
    return Frame(unit=b_i, weapon=w_i, track=k_ok[k_i], rounds=n_rounds[b_i, w_i], gain=g,
                 lead=lead[b_i, w_i, k_i], aim=aim[b_i, w_i, k_i], channels=free,
                 salvos=salvos)


def plan(t: float, tracks: Tracks, assessment: Assessment, eng: Engagements, flying: InFlight,
         units: FireUnits, params: Params) -> Plan:
    """New salvos for this frame: build the frame's problem and solve it."""
    frame = build_frame(t, tracks, assessment, eng, flying, units, params)
    c = np.flatnonzero(SOLVERS[params.doctrine.planner](frame))
    c = c[np.lexsort((frame.track[c], frame.unit[c]))]
    return Plan(unit=frame.unit[c], weapon=frame.weapon[c], track=frame.track[c],
                rounds=frame.rounds[c],
                launch_t=t + params.units.reaction_time_s[frame.unit[c]],
                intercept_t=t + frame.lead[c], aim=frame.aim[c].reshape(-1, 3))


def _empty_frame(free: np.ndarray, salvos: np.ndarray) -> Frame:
    z = np.zeros(0, dtype=np.int64)
    return Frame(unit=z, weapon=z, track=z, rounds=z, gain=np.zeros(0), lead=np.zeros(0),
                 aim=np.zeros((0, 3)), channels=free, salvos=salvos)
