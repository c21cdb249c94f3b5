"""Launches, fly-out, intercept resolution with a Pk draw, kill assessment and reloads.

*Predicted intercept point.* A round launched from ``L`` after the unit's reaction time ``tau``
flies at its mean speed ``s`` in a straight line to meet a target moving at constant velocity
``v`` from ``p``; with ``p' = p + v tau - L`` the fly-out time ``t_f`` is the smallest positive
root of

    (v.v - s^2) t_f^2 + 2 (p'.v) t_f + p'.p' = 0,

and the aim point is ``p + v (tau + t_f)`` (the classic collision-course solution). A track
the defense classes as ballistic is predicted under gravity instead, ``p + v T - g T^2 / 2``
vertically (no drag; straight-line prediction puts the aim point of a 30 s lead ~4.4 km too
high); the fly-out time is then the root of ``|P(tau + t_f) - L| = s t_f`` found by Newton's
method from the straight-line root.

*Resolution (truth side).* At the planned intercept time the round's seeker looks for the alive
threat nearest to where the defense believes its target is (the aimed track's estimate, or the
launch aim point once the track is gone). A threat within the seeker basket
(``Doctrine.kill_radius_m``), inside the weapon's envelope against the threat's *true* class and
speed, is killed with the catalog single-shot kill probability for that class; otherwise the
round misses. One uniform number is drawn per round, in round order, whatever the outcome, so
that two doctrines compared on the same run share their random numbers as far as possible.

*Kill assessment.* The defense does not read the draw: a track is re-engaged (shoot-look-shoot)
only after ``look_delay_s`` past the intercept and only if a measurement updated it after the
intercept, i.e. the target was still seen.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from iadsim.events import EventBatch, batch
from iadsim.params import Params
from iadsim.state import Engagements, FireUnits, InFlight, Interceptors, Threats, Tracks


def predicted_intercept(p: np.ndarray, v: np.ndarray, launcher: np.ndarray, tau: np.ndarray,
                        speed: np.ndarray, accel: np.ndarray | None = None) -> np.ndarray:
    """Fly-out time [s] on a collision course (inf where none), broadcasting over leading axes.

    ``p, v``: target position and velocity [..., 3]; ``launcher`` [..., 3]; ``tau`` reaction
    time [...]; ``speed`` interceptor mean speed [...]. With ``accel`` [..., 3] the target
    moves as ``p + v T + a T^2 / 2`` (a ballistic track under gravity): the straight-line
    root is refined by Newton steps on ``|P(tau + t) - L| - s t`` (module docstring).
    """
    pp = p + v * tau[..., None] - launcher
    a = (v * v).sum(-1) - speed**2
    b = 2.0 * (pp * v).sum(-1)
    c = (pp * pp).sum(-1)
    disc = b * b - 4 * a * c
    with np.errstate(invalid="ignore", divide="ignore"):
        sq = np.sqrt(np.where(disc >= 0, disc, np.nan))
        r1 = (-b - sq) / (2 * a)
        r2 = (-b + sq) / (2 * a)
        lin = np.where(b < 0, -c / b, np.nan)  # a == 0: target exactly as fast as the round
    r1 = np.where(r1 > 0, r1, np.inf)
    r2 = np.where(r2 > 0, r2, np.inf)
    out = np.fmin(r1, r2)
    out = np.where(np.abs(a) < 1e-9, np.where(lin > 0, lin, np.inf), out)
    out = np.where(np.isfinite(out), out, np.inf)
    if accel is None or not np.any(accel):
        return out
    return _accelerated_intercept(p, v, accel, launcher, tau, speed, out)


def _accelerated_intercept(p: np.ndarray, v: np.ndarray, acc: np.ndarray, launcher: np.ndarray,
                           tau: np.ndarray, speed: np.ndarray, t0: np.ndarray,
                           steps: int = 12, tol_m: float = 1.0) -> np.ndarray:
    """Newton's method on ``f(t) = |P(tau + t) - L| - s t``, ``P(T) = p + v T + acc T^2 / 2``,
    from ``t0`` (the straight-line root, or the straight-line time to the launcher where that
    is infinite). Roots that do not converge to within ``tol_m`` metres are inf."""
    shape = np.broadcast_shapes(t0.shape, tau.shape, np.shape(speed))
    t = np.broadcast_to(t0, shape).copy()
    tau = np.broadcast_to(tau, shape)
    start = np.linalg.norm(p + v * tau[..., None] - launcher, axis=-1) / speed
    t = np.where(np.isfinite(t), t, np.broadcast_to(start, shape))
    for _ in range(steps):
        big_t = (tau + t)[..., None]
        d = p + v * big_t + 0.5 * acc * big_t**2 - launcher
        dist = np.maximum(np.linalg.norm(d, axis=-1), 1e-9)
        f = dist - speed * t
        df = (d * (v + acc * big_t)).sum(-1) / dist - speed
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(df < 0, t - f / df, t)  # the round closes faster than the range grows
    big_t = (tau + t)[..., None]
    resid = np.linalg.norm(p + v * big_t + 0.5 * acc * big_t**2 - launcher, axis=-1) - speed * t
    return np.where((t > 0) & (np.abs(resid) <= tol_m), t, np.inf)


def unit_status(params: Params, t: float) -> np.ndarray:
    """[B] bool: fire units not inside one of their down windows at time ``t`` (a fire unit's
    organic radars share its outages)."""
    return np.array([not any(a <= t < b for a, b in w) for w in params.units.down_windows],
                    dtype=bool)


def init_units(params: Params) -> FireUnits:
    b = len(params.units.name)
    return FireUnits(
        ready=params.units.ready0.copy(), reserve=params.units.reserve0.copy(),
        reload_done_t=np.full(b, np.inf), reload_type=np.full(b, -1, dtype=np.int64),
        reload_n=np.zeros(b, dtype=np.int64), busy_channels=np.zeros(b, dtype=np.int64),
        up=unit_status(params, 0.0),
    )


def reload(units: FireUnits, params: Params, t: float) -> tuple[FireUnits, list[EventBatch]]:
    """Finish due reloads, then start one launcher's reload where a launcher's worth is empty.

    A unit reloads one launcher (``rails`` rounds, or what the reserve holds) at a time, of the
    interceptor type with the largest shortfall against its initial load.
    """
    ready, reserve = units.ready.copy(), units.reserve.copy()
    done_t, rtype, rn = units.reload_done_t.copy(), units.reload_type.copy(), units.reload_n.copy()
    events: list[EventBatch] = []
    fin = np.flatnonzero(done_t <= t + 1e-9)
    if len(fin):
        ready[fin, rtype[fin]] += rn[fin]
        events.append(batch("reload_done", done_t[fin], len(fin), unit=fin, weapon=rtype[fin],
                            value=rn[fin].astype(float)))
        done_t[fin], rtype[fin], rn[fin] = np.inf, -1, 0
    shortfall = params.units.ready0 - ready
    need = np.minimum(params.units.rails[:, None], reserve)  # rounds one reload would bring
    can = (need > 0) & (shortfall >= need)
    start = np.flatnonzero((rtype < 0) & units.up & can.any(axis=1))
    if len(start):
        w = np.argmax(np.where(can[start], shortfall[start], -1), axis=1)
        n = need[start, w]
        reserve[start, w] -= n
        rtype[start], rn[start] = w, n
        done_t[start] = t + params.units.reload_time_s[start]
        events.append(batch("reload_start", t, len(start), unit=start, weapon=w,
                            value=n.astype(float)))
    return replace(units, ready=ready, reserve=reserve, reload_done_t=done_t, reload_type=rtype,
                   reload_n=rn), events


def resolve(t: float, dt: float, rounds: Interceptors, threats: Threats, tracks: Tracks,
            params: Params, rng: np.random.Generator
            ) -> tuple[Interceptors, np.ndarray, list[EventBatch]]:
    """Resolve every round whose intercept time falls before the next frame (``< t + dt``).

    Returns the rounds still in flight, the indices of threats killed, and kill/miss events.
    """
    due = np.flatnonzero(rounds.active & (rounds.intercept_t < t + dt - 1e-9))
    if len(due) == 0:
        return rounds, np.zeros(0, dtype=np.int64), []
    due = due[np.lexsort((due, rounds.intercept_t[due]))]
    tp, w, d = params.threats, params.weapons, params.doctrine
    u = rng.random(len(due))
    alive = threats.alive.copy()
    killed: list[int] = []
    kill_ev: dict[str, list] = {k: [] for k in ("t", "threat", "track", "unit", "weapon", "value",
                                                "pos")}
    miss_ev: dict[str, list] = {k: [] for k in kill_ev}
    for j, r in enumerate(due):
        ti = rounds.intercept_t[r]
        slot, tid = rounds.track[r], rounds.track_id[r]
        if tracks.track_id[slot] == tid and tracks.status[slot] > 0:
            est = tracks.x[slot, :3] + tracks.x[slot, 3:] * (ti - tracks.t_update[slot])
        else:
            est = rounds.aim[r]
        cand = np.flatnonzero(alive)
        target, pk, where = -1, 0.0, est
        if len(cand):
            truth = threats.pos[cand] + threats.vel[cand] * (ti - t)
            dist = np.linalg.norm(truth - est, axis=1)
            near = int(np.argmin(dist))
            if dist[near] <= d.kill_radius_m:
                target = int(cand[near])
                where = truth[near]
                wi, cls = rounds.itype[r], tp.cls[target]
                rng_m = np.linalg.norm(where - params.units.pos[rounds.unit[r]])
                height = where[2] - params.units.pos[rounds.unit[r], 2]
                in_env = (w.min_range_m[wi] <= rng_m <= w.max_range_m[wi, cls]
                          and w.min_alt_m[wi] <= height <= w.max_alt_m[wi]
                          and np.linalg.norm(threats.vel[target]) <= w.max_target_speed_mps[wi])
                pk = float(w.pk[wi, cls]) if in_env else 0.0
        ev = kill_ev if (target >= 0 and u[j] < pk) else miss_ev
        ev["t"].append(ti)
        ev["threat"].append(target)
        ev["track"].append(tid)
        ev["unit"].append(rounds.unit[r])
        ev["weapon"].append(rounds.itype[r])
        ev["value"].append(pk)
        ev["pos"].append(where)
        if ev is kill_ev:
            alive[target] = False
            killed.append(target)
    active = rounds.active.copy()
    active[due] = False
    events = []
    for kind, ev in (("kill", kill_ev), ("miss", miss_ev)):
        if ev["t"]:
            events.append(batch(kind, np.array(ev["t"]), len(ev["t"]),
                                threat=np.array(ev["threat"], dtype=np.int64),
                                track=np.array(ev["track"], dtype=np.int64),
                                unit=np.array(ev["unit"], dtype=np.int64),
                                weapon=np.array(ev["weapon"], dtype=np.int64),
                                value=np.array(ev["value"]), pos=np.array(ev["pos"])))
    return replace(rounds, active=active), np.array(killed, dtype=np.int64), events


def busy_channels(rounds: Interceptors, n_units: int) -> np.ndarray:
    """[B] engagements (distinct salvos) in flight per unit: each holds one fire channel."""
    act = np.flatnonzero(rounds.active)
    if len(act) == 0:
        return np.zeros(n_units, dtype=np.int64)
    # engagement ids are unique across units: one entry per salvo in flight
    _, first = np.unique(rounds.engagement[act], return_index=True)
    return np.bincount(rounds.unit[act][first], minlength=n_units).astype(np.int64)


def in_flight(rounds: Interceptors, tracks: Tracks, category: np.ndarray, params: Params
              ) -> InFlight:
    """Salvos in flight at each track slot and the track's chance to survive them, from the
    weapons' Pk against the track's perceived ``category`` [K] (rounds independent)."""
    k = tracks.capacity
    act = np.flatnonzero(rounds.active)
    act = act[tracks.track_id[rounds.track[act]] == rounds.track_id[act]]
    salvos = np.zeros(k, dtype=np.int64)
    log_q = np.zeros(k)
    if len(act):
        _, first = np.unique(rounds.engagement[act], return_index=True)
        salvos = np.bincount(rounds.track[act][first], minlength=k).astype(np.int64)
        slot = rounds.track[act]
        pk = params.weapons.pk[rounds.itype[act], category[slot]]
        with np.errstate(divide="ignore"):
            np.add.at(log_q, slot, np.log1p(-np.minimum(pk, 1.0)))
    return InFlight(salvos=salvos, survival=np.exp(log_q))


def reset_reused_slots(eng: Engagements, old_ids: np.ndarray, tracks: Tracks) -> Engagements:
    """Clear the bookkeeping of slots that now hold a different track than before."""
    changed = old_ids != tracks.track_id
    if not changed.any():
        return eng
    shots, last, volley = eng.shots.copy(), eng.last_intercept_t.copy(), eng.volley.copy()
    shots[changed, :] = 0
    last[changed] = -np.inf
    volley[changed] = 0
    return replace(eng, shots=shots, last_intercept_t=last, volley=volley)
