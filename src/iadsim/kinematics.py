"""Threat motion: waypoint routes with a terminal dive, and ballistic terminal trajectories.

Two profiles, both vectorised over all threats:

*Cruise* (aircraft, helicopters, cruise and hypersonic missiles, drones, loitering munitions,
glide bombs). The threat flies a ground polyline (launch point, waypoints, aim point) at
constant ground speed. Its height above the aim point's ground is
``min(cruise_alt, dist_to_go * tan(dive))``: level flight, then a straight dive at the catalog
dive angle onto the aim point. A glide bomb descends linearly from its release altitude over its
whole route. It *arrives* when the distance to go falls to ``release_m``: zero
for munitions, the weapon-release distance for aircraft and helicopters, whose weapon is then
taken to reach the aim point.

*Ballistic* (terminal phase of ballistic missiles). The threat appears at re-entry altitude
``h0`` with speed ``v0`` at flight-path angle ``gamma`` below the horizontal and falls under
constant gravity with no drag, the closed form

    u(t) = h0 - v0 sin(gamma) t - g t^2 / 2,    ground distance x(t) = v0 cos(gamma) t,

placed so that the impact is exactly on the aim point: the start is the ground distance
``x(t_impact)`` back along the bearing from the launch area. Drag would slow a real re-entry
vehicle; leaving it out makes the threat faster and so errs on the defender's hard side.

Launch times are quantised to the frame: a threat appears at the first frame time >= its
launch time.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from iadsim.params import AssetParams, RaidSpec, ThreatParams
from iadsim.state import Threats

G = 9.80665  # m/s^2, standard gravity
LEVEL = 1e9  # "tangent" of no dive: level flight to the release point


def _disc(rng: np.random.Generator, n: int, radius: float) -> np.ndarray:
    """``n`` points uniform in a disc of ``radius`` around the origin, [n, 2]."""
    r = radius * np.sqrt(rng.random(n))
    a = 2 * np.pi * rng.random(n)
    return np.stack([r * np.sin(a), r * np.cos(a)], axis=1)


def ballistic_ground_range(h0: float, v0: float, gamma: float, h_aim: float = 0.0) -> float:
    """Ground distance flown from re-entry (h0, v0, gamma) to height ``h_aim``, no drag."""
    vz = v0 * np.sin(gamma)
    dh = h0 - h_aim
    t_imp = (-vz + np.sqrt(vz * vz + 2 * G * dh)) / G
    return float(v0 * np.cos(gamma) * t_imp)


def make_threats(raids: tuple[RaidSpec, ...], assets: AssetParams, rng: np.random.Generator
                 ) -> ThreatParams:
    """Draw one run's threats: launch points and aim points scattered in their discs."""
    names: list[str] = []
    types: list[str] = []
    cols: dict[str, list[np.ndarray]] = {k: [] for k in (
        "cls", "ballistic", "launch_t", "start", "start_vel", "speed", "alt", "tan_dive",
        "release", "rcs", "cost", "aim_asset", "aim")}
    routes: list[np.ndarray] = []
    for raid in raids:
        n = raid.count
        names += [f"{raid.name}#{i}" for i in range(n)]
        types += [raid.type] * n
        launch = raid.launch_en + _disc(rng, n, raid.launch_radius_m)
        aim_en = assets.pos[raid.target, :2] + _disc(rng, n, raid.aim_spread_m)
        aim_u = np.full(n, assets.pos[raid.target, 2])
        start = np.zeros((n, 3))
        start_vel = np.zeros((n, 3))
        if raid.ballistic:
            last = raid.waypoints_en[-1] if len(raid.waypoints_en) else None
            origin = np.broadcast_to(last, (n, 2)) if last is not None else launch
            bearing = aim_en - origin
            bearing /= np.maximum(np.linalg.norm(bearing, axis=1, keepdims=True), 1e-9)
            g = raid.reentry_angle_rad
            for i in range(n):
                x = ballistic_ground_range(raid.reentry_alt_m, raid.speed_mps, g, aim_u[i])
                start[i, :2] = aim_en[i] - bearing[i] * x
            start[:, 2] = raid.reentry_alt_m
            start_vel[:, :2] = bearing * raid.speed_mps * np.cos(g)
            start_vel[:, 2] = -raid.speed_mps * np.sin(g)
            route = np.stack([start[:, :2], aim_en], axis=1)
        else:
            wps = np.broadcast_to(raid.waypoints_en, (n, *raid.waypoints_en.shape))
            route = np.concatenate([launch[:, None], wps, aim_en[:, None]], axis=1)
        routes.append(route)
        seg = np.linalg.norm(np.diff(route, axis=1), axis=2)
        total = seg.sum(axis=1)
        if raid.ballistic:
            tan_dive = np.zeros(n)
        elif raid.dive_angle_rad < 0:  # glide: linear descent over the whole route
            tan_dive = raid.cruise_alt_m / np.maximum(total - raid.release_m, 1.0)
        else:
            tan_dive = np.full(n, np.tan(raid.dive_angle_rad) if raid.dive_angle_rad > 1e-6
                               else LEVEL)
        if not raid.ballistic:
            start[:, :2] = launch
            start[:, 2] = aim_u + np.minimum(raid.cruise_alt_m, total * tan_dive)
        cols["cls"].append(np.full(n, raid.cls))
        cols["ballistic"].append(np.full(n, raid.ballistic))
        cols["launch_t"].append(raid.launch_time_s + raid.spacing_s * np.arange(n))
        cols["start"].append(start)
        cols["start_vel"].append(start_vel)
        cols["speed"].append(np.full(n, raid.speed_mps))
        cols["alt"].append(np.full(n, raid.cruise_alt_m))
        cols["tan_dive"].append(tan_dive)
        cols["release"].append(np.full(n, 0.0 if raid.ballistic else raid.release_m))
        cols["rcs"].append(np.full(n, raid.rcs_m2))
        cols["cost"].append(np.full(n, raid.cost_usd))
        cols["aim_asset"].append(np.full(n, raid.target))
        cols["aim"].append(np.column_stack([aim_en, aim_u]))
    n_pts = max(r.shape[1] for r in routes)
    padded = [np.concatenate([r, np.repeat(r[:, -1:], n_pts - r.shape[1], axis=1)], axis=1)
              for r in routes]
    route = np.concatenate(padded)
    cum = np.concatenate([np.zeros((len(route), 1)),
                          np.cumsum(np.linalg.norm(np.diff(route, axis=1), axis=2), axis=1)], 1)
    c = {k: np.concatenate(v) for k, v in cols.items()}
    return ThreatParams(
        name=tuple(names), type=tuple(types), cls=c["cls"].astype(np.int64),
        ballistic=c["ballistic"].astype(bool), launch_t=c["launch_t"], start=c["start"],
        start_vel=c["start_vel"], route=route, cum_m=cum, total_m=cum[:, -1],
        speed_mps=c["speed"], cruise_alt_m=c["alt"], tan_dive=c["tan_dive"],
        release_m=c["release"], rcs_m2=c["rcs"], cost_usd=c["cost"],
        aim_asset=c["aim_asset"].astype(np.int64), aim=c["aim"],
    )


def init_threats(tp: ThreatParams) -> Threats:
    n = len(tp)
    return Threats(pos=tp.start.copy(), vel=np.zeros((n, 3)), alive=np.zeros(n, dtype=bool),
                   launched=np.zeros(n, dtype=bool), done=np.zeros(n, dtype=bool),
                   flown=np.zeros(n))


def _route_state(tp: ThreatParams, idx: np.ndarray, flown: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Position and velocity of cruise threats ``idx`` after ``flown`` metres of their route."""
    cum = tp.cum_m[idx]
    route = tp.route[idx]
    n_leg = cum.shape[1] - 1
    leg = np.minimum((cum[:, 1:] < flown[:, None]).sum(axis=1), n_leg - 1)
    rows = np.arange(len(idx))
    a, b = route[rows, leg], route[rows, leg + 1]
    seg = b - a
    seg_len = np.linalg.norm(seg, axis=1)
    direction = seg / np.maximum(seg_len, 1e-9)[:, None]
    along = np.clip(flown - cum[rows, leg], 0.0, seg_len)
    to_go = tp.total_m[idx] - flown
    height = np.minimum(tp.cruise_alt_m[idx], to_go * tp.tan_dive[idx])
    diving = to_go * tp.tan_dive[idx] < tp.cruise_alt_m[idx]
    pos = np.column_stack([a + direction * along[:, None], tp.aim[idx, 2] + height])
    speed = tp.speed_mps[idx]
    vel = np.column_stack([direction * speed[:, None],
                           np.where(diving, -speed * tp.tan_dive[idx], 0.0)])
    return pos, vel


def move(threats: Threats, tp: ThreatParams, t: float, dt: float
         ) -> tuple[Threats, np.ndarray, np.ndarray, np.ndarray]:
    """Advance every threat from ``t`` to ``t + dt``, then launch those due by ``t + dt``.

    Returns the new state, the indices of threats launched in this frame, the indices of
    threats that arrived (impact or weapon release) and their impact points [n, 3].
    """
    pos, vel = threats.pos.copy(), threats.vel.copy()
    alive, launched, done = threats.alive.copy(), threats.launched.copy(), threats.done.copy()
    flown = threats.flown.copy()
    arrived_idx: list[np.ndarray] = []
    impacts: list[np.ndarray] = []
    cruise = np.flatnonzero(alive & ~tp.ballistic)
    if len(cruise):
        goal = tp.total_m[cruise] - tp.release_m[cruise]
        f = np.minimum(flown[cruise] + tp.speed_mps[cruise] * dt, goal)
        flown[cruise] = f
        pos[cruise], vel[cruise] = _route_state(tp, cruise, f)
        hit = f >= goal - 1e-6
        arrived_idx.append(cruise[hit])
        impacts.append(tp.aim[cruise[hit]])
    bal = np.flatnonzero(alive & tp.ballistic)
    if len(bal):
        p0, v0 = pos[bal], vel[bal]
        p1 = p0 + v0 * dt
        p1[:, 2] -= 0.5 * G * dt * dt
        v1 = v0.copy()
        v1[:, 2] -= G * dt
        ground = tp.aim[bal, 2]
        hit = p1[:, 2] <= ground
        if hit.any():
            # time within the frame at which the height reaches the ground (quadratic root)
            vz, dz = v0[hit, 2], p0[hit, 2] - ground[hit]
            tau = (vz + np.sqrt(vz * vz + 2 * G * np.maximum(dz, 0.0))) / G
            imp = p0[hit] + v0[hit] * tau[:, None]
            imp[:, 2] = ground[hit]
            p1[hit] = imp
            arrived_idx.append(bal[hit])
            impacts.append(imp)
        pos[bal], vel[bal] = p1, v1
    arrived = np.concatenate(arrived_idx) if arrived_idx else np.zeros(0, dtype=np.int64)
    impact = np.concatenate(impacts) if impacts else np.zeros((0, 3))
    alive[arrived] = False
    done[arrived] = True
    new = np.flatnonzero(~launched & (tp.launch_t <= t + dt + 1e-9))
    launched[new] = True
    alive[new] = True
    pos[new] = tp.start[new]
    vel[new] = tp.start_vel[new]
    if len(new):
        cr = new[~tp.ballistic[new]]
        vel[cr] = _route_state(tp, cr, np.zeros(len(cr)))[1]
    new_state = replace(threats, pos=pos, vel=vel, alive=alive, launched=launched, done=done,
                        flown=flown)
    return new_state, new, arrived, impact


def kill(threats: Threats, idx: np.ndarray) -> Threats:
    """Threats ``idx`` are destroyed: they leave the world."""
    alive, done = threats.alive.copy(), threats.done.copy()
    alive[idx] = False
    done[idx] = True
    return replace(threats, alive=alive, done=done)
