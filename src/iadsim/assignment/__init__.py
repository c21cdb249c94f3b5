"""Dynamic weapon-target assignment: who fires what at which track, this frame.

Greedy maximum marginal return (den Broeder, Ellison & Emerling 1959; the standard greedy of
the WTA literature, e.g. Ahuja et al., Operations Research 55(6), 2007). Each frame the
candidate engagements are the triples (fire unit ``b``, interceptor type ``w``, track ``k``)
that are feasible *now*:

* the unit is up, has a free fire channel and at least one ready round of type ``w``;
* the track is confirmed, has no round in flight, has been engaged by this unit fewer than
  ``max_engagements`` times, and, after an earlier salvo, was seen again after that salvo's
  intercept and the look delay has passed (shoot-look-shoot);
* the track is among the unit's ``tracks_max`` highest-priority tracks in reach;
* the track is good enough to shoot at: the predicted intercept point is known to within the
  seeker basket, ``sigma_p + (lead + age) * sigma_v <= kill_radius_m`` with ``sigma_p``,
  ``sigma_v`` the rms position and velocity std of the track and ``lead`` the time to
  intercept (a fire-control quality gate: a fresh track with a poor velocity is held);
* the collision-course intercept (reaction time + fly-out) lies inside the weapon's envelope
  (min slant range and ``range_margin`` x max slant range for the perceived class, min/max
  altitude, max target speed) and before
  the track's predicted time to impact.

The marginal value of a salvo of ``n`` rounds is ``value_k * (1 - (1 - Pk_wk)^n)``. Candidates
are taken in decreasing marginal value (``priority: time`` takes the earliest impact first),
ties broken by lower cost, earlier intercept, unit and track order, so the plan is
deterministic. Each track gets at most one new salvo per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iadsim.engagement import predicted_intercept
from iadsim.params import Params
from iadsim.state import TRACK_CONFIRMED, Assessment, Engagements, FireUnits, Tracks


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


def eligible_tracks(t: float, tracks: Tracks, eng: Engagements, in_flight: np.ndarray,
                    assessment: Assessment, params: Params) -> np.ndarray:
    """[K] bool: tracks the doctrine allows some fire unit to engage now.

    A track with rounds in flight is not engaged again; after a salvo it is engaged again only
    once the look delay past that salvo's intercept has passed and a measurement has updated
    the track since the intercept (it survived). ``max_engagements`` is counted per fire unit,
    so each layer of a layered defense has its own shoot-look-shoot sequence.
    """
    d = params.doctrine
    fired = eng.shots.sum(axis=1) > 0
    looked = ~fired | ((t >= eng.last_intercept_t + d.look_s)
                       & (tracks.t_update > eng.last_intercept_t))
    return ((tracks.status == TRACK_CONFIRMED) & (in_flight == 0)
            & (eng.shots < d.max_engagements).any(axis=1) & looked
            & (assessment.value > d.min_value) & np.isfinite(assessment.tti))


def plan(t: float, tracks: Tracks, assessment: Assessment, eng: Engagements,
         in_flight: np.ndarray, units: FireUnits, params: Params) -> Plan:
    """Greedy marginal-value assignment of new salvos for this frame."""
    up, w, d = params.units, params.weapons, params.doctrine
    free = np.where(units.up, up.channels - units.busy_channels, 0)
    has_rounds = (units.ready > 0) & up.has_weapon  # [B, W]
    k_ok = np.flatnonzero(eligible_tracks(t, tracks, eng, in_flight, assessment, params))
    if len(k_ok) == 0 or not ((free > 0)[:, None] & has_rounds).any():
        return _empty_plan()

    # track state extrapolated to now
    age = t - tracks.t_update[k_ok]
    p = tracks.x[k_ok, :3] + tracks.x[k_ok, 3:] * age[:, None]
    v = tracks.x[k_ok, 3:]
    cat = assessment.category[k_ok]
    speed = assessment.speed[k_ok]
    tti = assessment.tti[k_ok]
    value = assessment.value[k_ok]
    # track quality: position and velocity std (rms over axes) at the last update
    pv = tracks.P[k_ok]
    sig_p = np.sqrt(np.trace(pv[:, :3, :3], axis1=1, axis2=2) / 3.0)
    sig_v = np.sqrt(np.trace(pv[:, 3:, 3:], axis1=1, axis2=2) / 3.0)

    # [B, W, K] geometry
    tau = up.reaction_time_s[:, None, None]
    t_f = predicted_intercept(p[None, None], v[None, None], up.pos[:, None, None],
                              np.broadcast_to(tau, (len(up.name), len(w.name), len(k_ok))),
                              w.speed_mps[None, :, None])
    lead = tau + t_f
    aim = p[None, None] + v[None, None] * np.where(np.isfinite(lead), lead, 0.0)[..., None]
    rng_m = np.linalg.norm(aim - up.pos[:, None, None], axis=-1)
    height = aim[..., 2] - up.pos[:, None, None, 2]
    max_r = d.range_margin * w.max_range_m[:, cat][None]  # [1, W, K]
    pk = w.pk[:, cat][None]
    pip_sigma = sig_p[None, None] + (lead + age[None, None]) * sig_v[None, None]
    feasible = (np.isfinite(t_f) & (lead < tti[None, None])
                & (pip_sigma <= d.kill_radius_m)
                & (rng_m >= w.min_range_m[None, :, None]) & (rng_m <= max_r)
                & (height >= w.min_alt_m[None, :, None]) & (height <= w.max_alt_m[None, :, None])
                & (speed[None, None] <= w.max_target_speed_mps[None, :, None]) & (pk > 0)
                & has_rounds[..., None] & (free > 0)[:, None, None]
                & (eng.shots[k_ok].T < d.max_engagements)[:, None, :])
    if not feasible.any():
        return _empty_plan()
    rounds = np.minimum(d.salvo, units.ready)  # [B, W]
    gain = value[None, None] * (1.0 - (1.0 - pk) ** rounds[..., None])

    b_i, w_i, k_i = np.nonzero(feasible)
    g = gain[b_i, w_i, k_i]
    keys = [k_ok[k_i], b_i, lead[b_i, w_i, k_i], w.cost_usd[w_i], -g]
    if d.priority == "time":
        keys.append(tti[k_i])
    order = np.lexsort(keys)  # last key is the primary one
    seen_tracks: list[set[int]] = [set() for _ in up.name]  # the unit's tracks_max best
    taken_k: set[int] = set()
    ready = units.ready.copy()
    chan = free.copy()
    out: dict[str, list] = {k: [] for k in ("unit", "weapon", "track", "rounds", "launch_t",
                                            "intercept_t", "aim")}
    for c in order:
        b, wi, kk = int(b_i[c]), int(w_i[c]), int(k_i[c])
        if kk not in seen_tracks[b]:
            if len(seen_tracks[b]) >= up.tracks_max[b]:
                continue
            seen_tracks[b].add(kk)
        if kk in taken_k or chan[b] <= 0 or ready[b, wi] <= 0:
            continue
        n = int(min(d.salvo, ready[b, wi]))
        taken_k.add(kk)
        chan[b] -= 1
        ready[b, wi] -= n
        out["unit"].append(b)
        out["weapon"].append(wi)
        out["track"].append(int(k_ok[kk]))
        out["rounds"].append(n)
        out["launch_t"].append(t + float(up.reaction_time_s[b]))
        out["intercept_t"].append(t + float(lead[b, wi, kk]))
        out["aim"].append(aim[b, wi, kk])
        if not (chan > 0).any():
            break
    if not out["unit"]:
        return _empty_plan()
    return Plan(unit=np.array(out["unit"], dtype=np.int64),
                weapon=np.array(out["weapon"], dtype=np.int64),
                track=np.array(out["track"], dtype=np.int64),
                rounds=np.array(out["rounds"], dtype=np.int64),
                launch_t=np.array(out["launch_t"]), intercept_t=np.array(out["intercept_t"]),
                aim=np.array(out["aim"]).reshape(-1, 3))


def _empty_plan() -> Plan:
    z = np.zeros(0, dtype=np.int64)
    return Plan(unit=z, weapon=z, track=z, rounds=z, launch_t=np.zeros(0),
                intercept_t=np.zeros(0), aim=np.zeros((0, 3)))
