"""Radar sensing: radar equation, Swerling-1 detection, measurement noise, Poisson clutter.

Detection model (single scan, square-law detector, Swerling case 1 target: Rayleigh amplitude,
scan-to-scan fluctuation). With mean signal-to-noise ratio ``SNR`` and false-alarm probability
``Pfa`` per resolution cell the probability of detection is

    Pd = Pfa ** (1 / (1 + SNR))

(Skolnik, *Introduction to Radar Systems*, 3rd ed., sec. 2.8, eq. 2.55 for n = 1 pulse;
Richards, *Fundamentals of Radar Signal Processing*, 2nd ed., eq. 6.61). ``rcs`` is therefore
the *mean* RCS: the fluctuation is inside the formula.

Radar range equation (Skolnik eq. 2.1): for a given radar, ``SNR ∝ sigma / R^4``. The catalog
calibrates it with one point per radar: the range ``ref_range_m`` at which a target of mean RCS
``ref_rcs_m2`` is detected with Pd = 0.5 per scan. Inverting the Pd formula there gives
``SNR_ref = ln(Pfa) / ln(0.5) - 1`` and elsewhere

    SNR = SNR_ref * (sigma / sigma_ref) * (R_ref / R)^4,

so the Pd = 0.5 range scales as ``R_50 = R_ref * (sigma / sigma_ref)^(1/4)``.

Measurements are the true apparent (range, azimuth, elevation) of the 4/3-earth geometry
(``geo.radar_polar``) plus independent Gaussian errors of std ``sigma[s]``. False plots are a
Poisson number per scan, uniform in range, azimuth and elevation over the sensor's volume
(a simple stand-in for a CFAR detector's residual false alarms: Skolnik sec. 2.5).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from iadsim import geo
from iadsim.params import SensorParams
from iadsim.state import Detections

TWO_PI = 2.0 * np.pi


def swerling1_pd(snr: np.ndarray | float, pfa: np.ndarray | float) -> np.ndarray:
    """Swerling-1 single-scan Pd: ``pfa ** (1 / (1 + snr))`` (``snr`` linear, not dB; inf -> 1)."""
    snr = np.asarray(snr, float)
    return np.power(np.asarray(pfa, float), 1.0 / (1.0 + snr))


def snr(
    range_m: np.ndarray | float,
    rcs_m2: np.ndarray | float,
    ref_range_m: np.ndarray | float,
    ref_rcs_m2: np.ndarray | float,
    pfa: np.ndarray | float,
) -> np.ndarray:
    """Mean SNR (linear) from the Pd = 0.5 calibration point and the R^-4 range equation.

    ``SNR = (ln(pfa)/ln(0.5) - 1) * (rcs/ref_rcs) * (ref_range/range)^4``; range 0 gives inf.
    """
    snr_ref = np.log(np.asarray(pfa, float)) / np.log(0.5) - 1.0
    rng_m = np.asarray(range_m, float)
    with np.errstate(divide="ignore"):
        ratio = np.asarray(ref_range_m, float) / rng_m
    return snr_ref * (np.asarray(rcs_m2, float) / np.asarray(ref_rcs_m2, float)) * ratio**4


def detection_range_m(
    rcs_m2: np.ndarray | float, ref_range_m: np.ndarray | float, ref_rcs_m2: np.ndarray | float
) -> np.ndarray:
    """Range [m] of Pd = 0.5 per scan for mean RCS ``rcs_m2``.

    ``ref_range * (rcs/ref_rcs)^(1/4)`` (range equation, R ∝ sigma^(1/4)).
    """
    return (
        np.asarray(ref_range_m, float)
        * (np.asarray(rcs_m2, float) / np.asarray(ref_rcs_m2, float)) ** 0.25
    )


def range_for_pd(
    pd: float,
    rcs_m2: np.ndarray | float,
    ref_range_m: np.ndarray | float,
    ref_rcs_m2: np.ndarray | float,
    pfa: np.ndarray | float,
) -> np.ndarray:
    """Range [m] at which a target of mean RCS ``rcs_m2`` is detected with probability ``pd``.

    Inverts the two formulas above: ``SNR_pd = ln(pfa)/ln(pd) - 1`` and
    ``R = R_ref * ((sigma/sigma_ref) * SNR_ref / SNR_pd)^(1/4)``.
    """
    pfa = np.asarray(pfa, float)
    snr_ref = np.log(pfa) / np.log(0.5) - 1.0
    snr_pd = np.log(pfa) / np.log(pd) - 1.0
    ratio = np.asarray(rcs_m2, float) / np.asarray(ref_rcs_m2, float) * snr_ref / snr_pd
    return np.asarray(ref_range_m, float) * ratio**0.25


def _groups(k: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected components of the graph on ``k`` nodes with edges ``(i, j)``: each node's
    label is the smallest node of its component (union-find; few edges in practice)."""
    if i.size > 256:
        _, lab = connected_components(coo_matrix((np.ones(i.size), (i, j)), shape=(k, k)),
                                      directed=False)
        first = np.full(lab.max() + 1, k)
        np.minimum.at(first, lab, np.arange(k))
        return first[lab]
    parent = list(range(k))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(i.tolist(), j.tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    label = np.arange(k)
    nodes = np.unique(np.concatenate([i, j])).tolist()
    label[nodes] = [find(x) for x in nodes]
    return label


def merge_unresolved(z_true: np.ndarray, z: np.ndarray, sensor: np.ndarray,
                     resolution: np.ndarray) -> np.ndarray:
    """Merge the plots of targets one sensor cannot resolve; returns the rows to keep.

    ``z_true [D, 3]`` true (range, azimuth, elevation) of the detected targets, ``z`` the same
    plus noise (changed in place), ``sensor [D]`` (plots of one sensor contiguous, targets in
    increasing index), ``resolution [S, 3]`` the resolution cell per sensor. Two targets are
    unresolved when they are closer than the cell on every axis (``|dr| <= dR``,
    ``|daz| <= dAz``, ``|del| <= dEl``: candidates from a window in range order, then the
    angle test; a ``cKDTree`` with the Chebyshev norm when many targets share a range), and
    unresolved-ness is transitive: each connected group gives one plot at the group's mean
    true position plus the noise drawn for its lowest-index target, whose truth label it keeps
    (Blackman & Popoli 1999, sec. 10.1, unresolved targets; a merged measurement at the
    centroid is the simplest model). Azimuths are compared without wrap-around: two targets
    on either side of north stay resolved.
    """
    keep = np.ones(z.shape[0], bool)
    bounds = np.flatnonzero(np.r_[True, sensor[1:] != sensor[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        k = b - a
        if k < 2:
            continue
        u = z_true[a:b] / resolution[sensor[a]]
        # candidate pairs: within one range cell (sorted by range, a window per target) ...
        order = np.argsort(u[:, 0], kind="stable")
        ur = u[order, 0]
        cnt = np.searchsorted(ur, ur + 1.0, side="right") - np.arange(k) - 1
        n_cand = int(cnt.sum())
        if n_cand == 0:
            continue
        if n_cand > 8 * k:  # many targets at one range (a ring, a wave): a k-d tree instead
            pairs = cKDTree(u).query_pairs(1.0, p=np.inf, output_type="ndarray")
            i, j = pairs[:, 0], pairs[:, 1]
        else:
            i = np.repeat(np.arange(k), cnt)
            j = i + 1 + np.arange(n_cand) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            i, j = order[i], order[j]
            # ... and within one cell in azimuth and elevation
            close = (np.abs(u[i, 1] - u[j, 1]) <= 1.0) & (np.abs(u[i, 2] - u[j, 2]) <= 1.0)
            i, j = i[close], j[close]
        if i.size == 0:
            continue
        label = _groups(k, i, j)
        member = label != np.arange(k)
        reps = np.unique(label[member])
        size = np.bincount(label, minlength=k)[reps]
        mean = np.stack([np.bincount(label, weights=z_true[a:b, ax], minlength=k)[reps]
                         for ax in range(3)], axis=1) / size[:, None]
        rows = a + reps
        z[rows] = mean + (z[rows] - z_true[rows])
        keep[a:b][member] = False
    return keep


def sense(
    t: float,
    due: np.ndarray,
    sensors: SensorParams,
    pos: np.ndarray,
    rcs: np.ndarray,
    alive: np.ndarray,
    rng: np.random.Generator,
) -> Detections:
    """Plots of every sensor whose scan is due at time ``t`` (one scan each), with clutter.

    Args:
        t: scan time [s], stamped on every plot.
        due: [S] bool, sensors that scan now (the caller folds "sensor up" into it).
        sensors: sensor parameters (positions, calibration, limits, noise, clutter).
        pos: [N, 3] m, true target positions (e, n, u).
        rcs: [N] m^2, mean RCS.
        alive: [N] bool, targets present in the world.
        rng: the sensing stream.

    For each due sensor ``s`` in increasing index order, over all targets at once:

    1. candidates: ``alive & line_of_sight & r <= max_range_m & min_el <= el <= max_el``;
    2. ``Pd = swerling1_pd(snr(...))`` (0 for non-candidates); one uniform per target
       (all ``N``, detected or not) decides the Bernoulli draw;
    3. noise: one standard normal triple per target (all ``N``), scaled by ``sigma[s]``;
       azimuth wrapped into [0, 2 pi), range reflected to stay > 0; detected targets that the
       sensor cannot resolve give one plot (:func:`merge_unresolved`, when
       ``sensors.resolution`` is set);
    4. clutter: a Poisson(``clutter_per_scan[s]``) count, then one uniform triple per false
       plot mapped to range [0, max_range], azimuth [0, 2 pi), elevation [min_el, max_el];
       their ``truth`` is -1.

    Drawing for every target, not only the candidates, keeps the number of draws per scan
    independent of the geometry, so two runs with the same seed that differ elsewhere (a
    doctrine, a killed threat) keep common random numbers for the other targets.

    Returns the concatenated :class:`~iadsim.state.Detections` (sensor order, targets before
    clutter within a sensor), or ``Detections.empty()`` when there is none.

    Implementation: steps 1-2 run for all sensors against all targets in one go (``[S, N]``
    arrays, the same element-wise operations), the loop over the due sensors only makes the
    draws (into preallocated arrays, in the order above), and only detected pairs are
    converted to plots. The result is bit for bit the one of the sensor-by-sensor procedure.
    """
    pos = np.asarray(pos, float)
    rcs = np.asarray(rcs, float)
    alive = np.asarray(alive, bool)
    n_targets = pos.shape[0]
    due_idx = np.asarray(due, bool).nonzero()[0]
    if due_idx.size == 0:
        return Detections.empty()

    # 1-2 for every sensor at once ([S, N]): the same element-wise operations as sensor by sensor.
    candidate, slant = geo.coverage(
        sensors.pos[:, None, :],
        pos,
        sensors.max_range_m[:, None],
        sensors.min_el_rad[:, None],
        sensors.max_el_rad[:, None],
    )
    pfa = sensors.pfa[:, None]
    snr_sn = snr(slant, rcs, sensors.ref_range_m[:, None], sensors.ref_rcs_m2[:, None], pfa)
    pd = np.where(candidate & alive, swerling1_pd(snr_sn, pfa), 0.0)[due_idx]

    # The draws, sensor by sensor in the documented order.
    uniform = np.empty((due_idx.size, n_targets))
    noise = np.empty((due_idx.size, n_targets, 3))
    n_clutter, clutter_u = [], []
    lam = sensors.clutter_per_scan.tolist()
    for j, s in enumerate(due_idx.tolist()):
        rng.random(out=uniform[j])
        rng.standard_normal(out=noise[j])
        n_clutter.append(int(rng.poisson(lam[s])))
        clutter_u.append(rng.random((n_clutter[-1], 3)))

    # 2-3: detections with noise; only the detected pairs are converted.
    j_hit, truth = (uniform < pd).nonzero()
    s_hit = due_idx[j_hit]
    z = geo.radar_polar(sensors.pos[s_hit], pos[truth])
    z_true = z.copy() if sensors.resolution is not None and truth.size > 1 else None
    z += noise[j_hit, truth] * sensors.sigma[s_hit]
    if z_true is not None:  # 3b: unresolved targets give one plot
        keep = merge_unresolved(z_true, z, s_hit, sensors.resolution)
        z, truth, s_hit = z[keep], truth[keep], s_hit[keep]
    z[:, 0] = np.abs(z[:, 0])
    z[:, 1] = geo.wrap_azimuth(z[:, 1])

    # 4: clutter, uniform over each sensor's volume.
    n_false = sum(n_clutter)
    if n_false:
        s_false = np.repeat(due_idx, n_clutter)
        lo = np.zeros((sensors.pos.shape[0], 3))
        lo[:, 2] = sensors.min_el_rad
        span = (
            np.column_stack([sensors.max_range_m, np.full(lo.shape[0], TWO_PI), sensors.max_el_rad])
            - lo
        )
        zc = lo[s_false] + np.concatenate(clutter_u) * span[s_false]
        zc[:, 1] = geo.wrap_azimuth(zc[:, 1])
        sensor = np.concatenate([s_hit, s_false])
        order = np.argsort(sensor, kind="stable")  # sensor order, targets before clutter
        z = np.concatenate([z, zc])[order]
        truth = np.concatenate([truth, np.full(n_false, -1, dtype=np.int64)])[order]
        sensor = sensor[order]
    else:
        sensor = s_hit
    if z.shape[0] == 0:
        return Detections.empty()
    return Detections(
        sensor=sensor.astype(np.int64),
        t=np.full(z.shape[0], float(t)),
        z=z,
        truth=truth.astype(np.int64),
    )
