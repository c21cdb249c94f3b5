"""Threat evaluation from tracks alone: time to go, predicted impact, asset at risk, value.

Perception never reads truth: everything here is computed from the confirmed tracks' state
estimates and the (known) defended assets.

*Asset at risk.* Each track is extrapolated along a straight line at its estimated velocity
(constant-velocity prediction). For asset ``a`` at ground position ``q`` the time of closest
horizontal approach is ``t* = max(0, -(p - q)·v / |v|^2)`` (horizontal components) and the miss
distance is ``|p + v t* - q|``. A descending track (``vu < -1 m/s``) is cut at its predicted ground
impact ``t_g = (u - u_a) / -vu``. The asset is threatened when the miss distance is within its
radius plus ``assess_radius_m``; the asset at risk is the threatened one reached first, and the
track's value is that asset's value (0 when no asset is threatened).

*Category.* The defender does not see the threat class; it infers a coarse one from
kinematics (a simple rule set, documented in :func:`categorise`), which selects the Pk table
column and the envelope the assignment uses.
"""

from __future__ import annotations

import numpy as np

from iadsim.catalog import THREAT_CLASSES
from iadsim.params import AssetParams, Doctrine
from iadsim.state import TRACK_CONFIRMED, Assessment, Tracks

CLS = {c: i for i, c in enumerate(THREAT_CLASSES)}
BALLISTIC_SPEED_MPS = 1000.0
FAST_SPEED_MPS = 120.0


def categorise(speed: np.ndarray, vu: np.ndarray) -> np.ndarray:
    """Perceived class from the estimated speed and climb rate.

    * faster than 1 km/s and descending steeper than ~17 deg: ``ballistic``;
    * faster than 1 km/s otherwise: ``hypersonic``;
    * faster than 120 m/s: ``cruise_missile`` (stands for every fast air-breather: aircraft,
      cruise missiles, glide bombs; their Pk and envelope are taken from the cruise-missile
      column, the conservative one for most catalog interceptors);
    * slower: ``uav`` (drones, loitering munitions, helicopters, multirotors).
    """
    steep = vu < -0.3 * speed
    return np.select(
        [(speed >= BALLISTIC_SPEED_MPS) & steep, speed >= BALLISTIC_SPEED_MPS,
         speed >= FAST_SPEED_MPS],
        [CLS["ballistic"], CLS["hypersonic"], CLS["cruise_missile"]],
        default=CLS["uav"],
    ).astype(np.int64)


def assess(tracks: Tracks, t: float, assets: AssetParams, doctrine: Doctrine) -> Assessment:
    """Evaluate every confirmed track (other slots get ``asset = -1``, value 0, tti = inf)."""
    k = tracks.capacity
    conf = np.flatnonzero(tracks.status == TRACK_CONFIRMED)
    tti = np.full(k, np.inf)
    impact = np.full((k, 3), np.nan)
    asset = np.full(k, -1, dtype=np.int64)
    value = np.zeros(k)
    speed = np.linalg.norm(tracks.x[:, 3:], axis=1)
    category = categorise(speed, tracks.x[:, 5])
    if len(conf) == 0 or len(assets.name) == 0:
        return Assessment(tti, impact, asset, category, value, speed)

    # extrapolate from the last update to now
    age = t - tracks.t_update[conf]
    p = tracks.x[conf, :3] + tracks.x[conf, 3:] * age[:, None]
    v = tracks.x[conf, 3:]
    d = p[:, None, :2] - assets.pos[None, :, :2]  # [C, A, 2]
    vh = v[:, None, :2]
    vh2 = np.maximum((vh * vh).sum(-1), 1e-9)
    t_star = np.maximum(0.0, -(d * vh).sum(-1) / vh2)  # [C, A]
    descending = v[:, 2] < -1.0
    height = p[:, None, 2] - assets.pos[None, :, 2]
    sink = np.maximum(-v[:, None, 2], 1e-9)
    t_ground = np.where(descending[:, None], np.maximum(height, 0) / sink, np.inf)
    t_hit = np.minimum(t_star, t_ground)
    closest = d + vh * t_hit[..., None]
    miss = np.linalg.norm(closest, axis=-1)
    threatened = miss <= assets.radius_m[None, :] + doctrine.assess_radius_m
    t_masked = np.where(threatened, t_hit, np.inf)
    first = np.argmin(t_masked, axis=1)
    rows = np.arange(len(conf))
    ok = np.isfinite(t_masked[rows, first])
    tti[conf[ok]] = t_masked[rows, first][ok]
    asset[conf[ok]] = first[ok]
    value[conf[ok]] = assets.value[first[ok]]
    th = t_hit[rows, first]
    impact[conf] = p + v * np.where(np.isfinite(th), th, 0.0)[:, None]
    return Assessment(tti=tti, impact=impact, asset=asset, category=category, value=value,
                      speed=speed)
