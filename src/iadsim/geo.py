"""Geometry: WGS84 <-> local frame, 4/3-earth radar geometry, radar horizon.

Local frame (see ``state``): ``e, n`` are east-north coordinates [m] in the tangent plane at the
scenario origin (``pymap3d.geodetic2enu``) and ``u`` is height above the WGS84 ellipsoid [m].
The horizontal plane is therefore flat; earth curvature enters through one model, used alike by
sensing and by tracking so that a noise-free measurement converts back exactly onto the truth.

The effective-earth model (Skolnik, *Introduction to Radar Systems*, 3rd ed., sec. 8.2,
"Refraction"): standard atmospheric refraction bends rays downwards; drawing rays straight over
an earth of radius ``k R`` with ``k = 4/3`` accounts for it. Over ground distance ``d`` the
surface of that earth drops ``d^2 / (2 k R)`` below the radar's horizontal (parabolic,
small-angle approximation of the sphere, good to well below 1 % for d < 1000 km). A target at
height difference ``dh = u_t - u_r`` is then seen at the apparent vertical offset

    v  = dh - d^2 / (2 k R)
    r  = hypot(d, v)             slant range
    el = atan2(v, d)             elevation
    az = atan2(de, dn) mod 2 pi  azimuth, clockwise from north

and the smooth-earth radar horizon is ``sqrt(2 k R h_r) + sqrt(2 k R h_t)`` (Skolnik eq. 8.4;
about 4.12 km * (sqrt(h_r) + sqrt(h_t)), heights in metres).

All functions are vectorised and broadcast over leading axes (``[..., 3]``).
"""

from __future__ import annotations

import math

import numpy as np
import pymap3d

EARTH_RADIUS_M = 6_371_000.0  # mean earth radius (IUGG)
K_REFRACTION = 4.0 / 3.0  # standard-atmosphere effective-earth factor (Skolnik sec. 8.2)

TWO_PI = 2.0 * np.pi
_SCALAR_PLOTS = 8  # polar_to_local_jacobian: up to this many plots, a loop in Python floats


def wrap_azimuth(a: np.ndarray | float) -> np.ndarray:
    """Angle(s) wrapped into [0, 2 pi) (``np.mod`` alone can return 2 pi for tiny negatives)."""
    w = np.mod(np.asarray(a, float), TWO_PI)
    return np.where(w >= TWO_PI, 0.0, w)


def to_local(
    lat_deg: np.ndarray | float,
    lon_deg: np.ndarray | float,
    alt_m: np.ndarray | float,
    origin: tuple[float, float, float],
) -> np.ndarray:
    """Geodetic (deg, deg, m above ellipsoid) -> local ``[..., 3]`` (e, n, u).

    ``e, n`` are the tangent-plane coordinates of ``pymap3d.geodetic2enu`` at ``origin =
    (lat0, lon0, h0)``; ``u`` is the height ``alt_m`` itself, not the tangent-plane "up".
    """
    lat, lon, alt = np.broadcast_arrays(
        np.asarray(lat_deg, float), np.asarray(lon_deg, float), np.asarray(alt_m, float)
    )
    e, n, _ = pymap3d.geodetic2enu(lat, lon, alt, *origin)
    return np.stack([np.asarray(e, float), np.asarray(n, float), alt.copy()], axis=-1)


def to_geodetic(
    enu: np.ndarray, origin: tuple[float, float, float], tol_m: float = 1e-6
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local ``[..., 3]`` -> geodetic (lat deg, lon deg, alt m): the inverse of :func:`to_local`.

    ``alt = u`` exactly. Latitude and longitude solve ``geodetic2enu(lat, lon, u)[:2] = (e, n)``
    by a fixed-point iteration on shadow tangent-plane coordinates ``(e', n')``: start with
    ``(e', n') = (e, n)``, map ``(e', n', 0)`` to geodetic with ``pymap3d.enu2geodetic``, and
    add the residual ``(e, n) - geodetic2enu(lat, lon, u)[:2]`` to ``(e', n')``. The map is
    identity up to terms of order ``u / R`` and ``d / R``, so it contracts fast (error below
    ``tol_m`` in 2-4 passes at the ranges of a theatre); it stops after 10 passes regardless.
    """
    enu = np.asarray(enu, float)
    e, n, u = enu[..., 0], enu[..., 1], enu[..., 2]
    es, ns = e.copy(), n.copy()
    lat = lon = np.zeros_like(e)
    for _ in range(10):
        lat, lon, _h = pymap3d.enu2geodetic(es, ns, np.zeros_like(es), *origin)
        ek, nk, _ = pymap3d.geodetic2enu(lat, lon, u, *origin)
        de, dn = e - ek, n - nk
        es, ns = es + de, ns + dn
        if np.all(np.abs(de) < tol_m) and np.all(np.abs(dn) < tol_m):
            break
    lat, lon, _h = pymap3d.enu2geodetic(es, ns, np.zeros_like(es), *origin)
    return np.asarray(lat, float), np.asarray(lon, float), u.copy()


def horizon_range_m(
    h_radar_m: np.ndarray | float, h_target_m: np.ndarray | float, k: float = K_REFRACTION
) -> np.ndarray:
    """Smooth-earth radar horizon [m]: ``sqrt(2 k R h_r) + sqrt(2 k R h_t)`` (Skolnik eq. 8.4).

    Heights [m] above the ellipsoid are clipped at 0 (a point below the surface sees nothing
    beyond its own foot).
    """
    two_kr = 2.0 * k * EARTH_RADIUS_M
    hr = np.maximum(np.asarray(h_radar_m, float), 0.0)
    ht = np.maximum(np.asarray(h_target_m, float), 0.0)
    return np.sqrt(two_kr * hr) + np.sqrt(two_kr * ht)


def curvature_drop(d: np.ndarray | float) -> np.ndarray | float:
    """Drop [m] of the 4/3-earth surface below the horizontal at ground distance ``d``."""
    return d * d / (2.0 * K_REFRACTION * EARTH_RADIUS_M)


def radar_polar(radar_pos: np.ndarray, target_pos: np.ndarray) -> np.ndarray:
    """Apparent (range m, azimuth rad, elevation rad) ``[..., 3]`` of targets from a radar.

    Broadcasts ``radar_pos [..., 3]`` against ``target_pos [..., 3]``. Model in the module
    docstring: ``v = dh - d^2/(2 k R)``, ``r = hypot(d, v)``, ``el = atan2(v, d)``,
    ``az = atan2(de, dn) mod 2 pi`` (0 for a target straight above the radar).
    """
    radar_pos = np.asarray(radar_pos, float)
    target_pos = np.asarray(target_pos, float)
    de = target_pos[..., 0] - radar_pos[..., 0]
    dn = target_pos[..., 1] - radar_pos[..., 1]
    dh = target_pos[..., 2] - radar_pos[..., 2]
    d = np.hypot(de, dn)
    v = dh - curvature_drop(d)
    az = wrap_azimuth(np.arctan2(de, dn))
    return np.stack([np.hypot(d, v), az, np.arctan2(v, d)], axis=-1)


def polar_to_local(radar_pos: np.ndarray, zpolar: np.ndarray) -> np.ndarray:
    """Exact inverse of :func:`radar_polar`: (r, az, el) ``[..., 3]`` -> local ``[..., 3]``.

    ``d = r cos(el)``, ``v = r sin(el)``, ``e = e_r + d sin(az)``, ``n = n_r + d cos(az)``,
    ``u = u_r + v + d^2/(2 k R)``.
    """
    radar_pos = np.asarray(radar_pos, float)
    zpolar = np.asarray(zpolar, float)
    r, az, el = zpolar[..., 0], zpolar[..., 1], zpolar[..., 2]
    d = r * np.cos(el)
    v = r * np.sin(el)
    return np.stack(
        [
            radar_pos[..., 0] + d * np.sin(az),
            radar_pos[..., 1] + d * np.cos(az),
            radar_pos[..., 2] + v + curvature_drop(d),
        ],
        axis=-1,
    )


def polar_jacobian(radar_pos: np.ndarray, zpolar: np.ndarray) -> np.ndarray:
    """Jacobian ``d(e, n, u) / d(r, az, el)`` ``[..., 3, 3]`` of :func:`polar_to_local`.

    Rows e, n, u; columns r, az, el. With ``c = cos el``, ``s = sin el``, ``d = r c`` and
    ``g = d / (k R)`` (slope of the curvature drop):

        de = [ c sin az,   d cos az,  -r s sin az ]
        dn = [ c cos az,  -d sin az,  -r s cos az ]
        du = [ s + g c,    0,          r c - g r s ]

    ``radar_pos`` does not enter (translation); it is taken for symmetry and broadcasting.
    """
    radar_pos = np.asarray(radar_pos, float)
    zpolar = np.asarray(zpolar, float)
    zpolar = zpolar + np.zeros(np.broadcast_shapes(radar_pos.shape, zpolar.shape))
    r, az, el = zpolar[..., 0], zpolar[..., 1], zpolar[..., 2]
    c, s = np.cos(el), np.sin(el)
    sa, ca = np.sin(az), np.cos(az)
    d = r * c
    g = d / (K_REFRACTION * EARTH_RADIUS_M)
    jac = np.empty(zpolar.shape[:-1] + (3, 3))
    jac[..., 0, 0] = c * sa
    jac[..., 0, 1] = d * ca
    jac[..., 0, 2] = -r * s * sa
    jac[..., 1, 0] = c * ca
    jac[..., 1, 1] = -d * sa
    jac[..., 1, 2] = -r * s * ca
    jac[..., 2, 0] = s + g * c
    jac[..., 2, 1] = 0.0
    jac[..., 2, 2] = r * c - g * r * s
    return jac


def polar_to_local_jacobian(
    radar_pos: np.ndarray, zpolar: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(polar_to_local, polar_jacobian)`` of plots ``zpolar [D, 3]`` from ``radar_pos [3]``.

    The same floating-point operations as the two functions, so the same values bit for bit
    (``math.sin``/``math.cos`` and ``np.sin``/``np.cos`` are both the C library's here; a
    test checks it). A scan has a few plots, so the per-plot loop in Python floats is
    cheaper than the ~30 NumPy calls of the array formulas; larger batches use those.
    """
    radar_pos = np.asarray(radar_pos, float)
    zpolar = np.asarray(zpolar, float).reshape(-1, 3)
    if zpolar.shape[0] > _SCALAR_PLOTS:
        return polar_to_local(radar_pos, zpolar), polar_jacobian(radar_pos, zpolar)
    e0, n0, u0 = radar_pos.tolist()
    local, jac = [], []
    for r, az, el in zpolar.tolist():
        c, s, sa, ca = math.cos(el), math.sin(el), math.sin(az), math.cos(az)
        d, v = r * c, r * s
        local.append((e0 + d * sa, n0 + d * ca, u0 + v + curvature_drop(d)))
        g = d / (K_REFRACTION * EARTH_RADIUS_M)
        rs = -r * s
        jac.append(
            (c * sa, d * ca, rs * sa, c * ca, -d * sa, rs * ca, s + g * c, 0.0, r * c - g * r * s)
        )
    return np.array(local).reshape(-1, 3), np.array(jac).reshape(-1, 3, 3)


def line_of_sight(radar_pos: np.ndarray, target_pos: np.ndarray) -> np.ndarray:
    """Smooth-earth visibility (bool, broadcast): target above ground and inside the horizon.

    True where ``u_t > 0`` and the ground distance ``d <= horizon_range_m(u_r, u_t)``. Terrain
    masking is not modelled (bald earth).
    """
    radar_pos = np.asarray(radar_pos, float)
    target_pos = np.asarray(target_pos, float)
    d = np.hypot(target_pos[..., 0] - radar_pos[..., 0], target_pos[..., 1] - radar_pos[..., 1])
    ht = target_pos[..., 2]
    return (ht > 0.0) & (d <= horizon_range_m(radar_pos[..., 2], ht))


def coverage(
    radar_pos: np.ndarray,
    target_pos: np.ndarray,
    max_range_m: np.ndarray | float,
    min_el_rad: np.ndarray | float,
    max_el_rad: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray]:
    """Targets a radar can see, and their slant range: ``(visible [...] bool, r [...] m)``.

    ``visible = line_of_sight & r <= max_range_m & min_el_rad <= el <= max_el_rad`` with ``r``
    and ``el`` of :func:`radar_polar`; everything broadcasts (e.g. radars ``[S, 1, 3]`` against
    targets ``[N, 3]`` and limits ``[S, 1]`` give ``[S, N]``). The same floating-point
    operations as those functions, done once (no azimuth, no stacking), so the result is
    bit-for-bit the one of the composition.
    """
    radar_pos = np.asarray(radar_pos, float)
    target_pos = np.asarray(target_pos, float)
    ht = target_pos[..., 2]
    d = np.hypot(target_pos[..., 0] - radar_pos[..., 0], target_pos[..., 1] - radar_pos[..., 1])
    v = (ht - radar_pos[..., 2]) - curvature_drop(d)
    r = np.hypot(d, v)
    el = np.arctan2(v, d)
    visible = (
        (ht > 0.0)
        & (d <= horizon_range_m(radar_pos[..., 2], ht))
        & (r <= max_range_m)
        & (el >= min_el_rad)
        & (el <= max_el_rad)
    )
    return visible, r
