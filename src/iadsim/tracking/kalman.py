"""Kalman filter for a nearly-constant-velocity target, with converted radar measurements.

State ``x = (e, n, u, ve, vn, vu)`` [m, m/s] in the local frame (``state.Tracks``), covariance
``P`` [6, 6]. Everything is batched over a leading track axis ``K``.

Motion model: continuous white-noise acceleration (CWNA, "nearly constant velocity"), Bar-Shalom,
Li & Kirubarajan, *Estimation with Applications to Tracking and Navigation* (2001), sec. 6.2.2:
per axis, state (p, v), ``F = [[1, dt], [0, 1]]`` and

    Q = q * [[dt^3/3, dt^2/2], [dt^2/2, dt]],   q = accel_sigma^2

where ``q`` [m^2/s^3] is the power spectral density of the acceleration noise; taking it equal
to ``accel_sigma^2`` makes the velocity random walk grow by ``accel_sigma`` [m/s] per sqrt(s).
Choose ``accel_sigma`` of the order of the unmodelled acceleration (Bar-Shalom eq. 6.2.2-8
suggests ``q ~ a_max^2 * dt``; we keep one value for all scan periods).

Measurement model: the radar's (r, az, el) is converted to the local frame with the exact
inverse of the sensing geometry (``geo.polar_to_local``); its covariance is the *linearised*
conversion ``R = J diag(sigma^2) J^T`` with ``J = geo.polar_jacobian`` at the measurement
(Bar-Shalom sec. 10.4.3). The measurement is then linear, ``z = H x + w`` with ``H = [I3 0]``.
The plain conversion is biased when the cross-range error is large, roughly when
``r * sigma_az^2 / sigma_r`` exceeds 0.4 (Lerro & Bar-Shalom, "Tracking with debiased consistent
converted measurements versus EKF", IEEE T-AES 29(3), 1993): :func:`convert_measurements`
removes that bias multiplicatively (Mo et al. 1998) and keeps the linearised covariance.

Update: Kalman gain from the innovation covariance ``S = H P H^T + R``, covariance in Joseph form
``(I - K H) P (I - K H)^T + K R K^T`` (Bar-Shalom eq. 5.2.3-18), then symmetrised, which keeps
``P`` symmetric positive definite in floating point.

Implementation: the tracker calls these with a few tracks at a time, so the cost is per call.
``F`` and ``Q`` are cached per ``dt``, the solve calls LAPACK's gufunc directly, and
:func:`predict_position` gives the position part of a prediction without 6x6 products.
:func:`predict`, :func:`update` and :func:`convert_measurements` compute exactly the values of
the plain formulas (the tests check it bit for bit), so the track state does not depend on
these shortcuts.
"""

from __future__ import annotations

import functools

import numpy as np

from iadsim import geo
from iadsim.tracking import core

_EYE6 = np.eye(6)
_EYE6.flags.writeable = False
_IDX = np.arange(3)
# Flat indices (6 row + col) of the nonzero entries of F (dt part) and Q (per block).
_F_DT = 6 * _IDX + _IDX + 3
_Q_PP = 7 * _IDX
_Q_PV = np.concatenate([_F_DT, 6 * (_IDX + 3) + _IDX])
_Q_VV = 7 * (_IDX + 3)
# Flat indices of the 3x3 blocks of a 6x6 matrix, row-major within a block, in the order
# position (A), velocity-position (lower left), position-velocity (upper right), velocity (C).
_BLOCKS = np.concatenate(
    [6 * (r + _IDX[:, None]) + c + _IDX for r, c in ((0, 0), (3, 0), (0, 3), (3, 3))], axis=None
)


def cv_transition(dt: np.ndarray | float) -> np.ndarray:
    """CV transition matrix ``[[I3, dt I3], [0, I3]]``: [6, 6] for scalar dt, [K, 6, 6] for [K]."""
    dt = np.asarray(dt, float)
    F = np.empty(dt.shape + (36,))
    F[...] = _EYE6.reshape(36)
    F[..., _F_DT] = dt[..., None]
    return F.reshape(dt.shape + (6, 6))


def cv_process_noise(dt: np.ndarray | float, accel_sigma: float) -> np.ndarray:
    """CWNA process noise (Bar-Shalom sec. 6.2.2): [6, 6] for scalar dt, [K, 6, 6] for [K].

    Per axis ``q * [[dt^3/3, dt^2/2], [dt^2/2, dt]]`` with ``q = accel_sigma^2`` [m^2/s^3].
    """
    dt = np.asarray(dt, float)
    q = float(accel_sigma) ** 2
    Q = np.zeros(dt.shape + (36,))
    Q[..., _Q_PP] = (q * dt**3 / 3.0)[..., None]
    Q[..., _Q_PV] = (q * dt**2 / 2.0)[..., None]
    Q[..., _Q_VV] = (q * dt)[..., None]
    return Q.reshape(dt.shape + (6, 6))


@functools.lru_cache(maxsize=4096)
def _transition_and_noise(dt: float, accel_sigma: float) -> np.ndarray:
    """``[F(dt), Q(dt)]`` as one read-only [2, 6, 6] array (cached: scan periods repeat): the
    shared kernel's model (:func:`iadsim.tracking.core.cv_model`, ``q = accel_sigma^2``)."""
    fq = np.array(core.cv_model(dt, float(accel_sigma) ** 2, 3))
    fq.flags.writeable = False
    return fq


def predict(
    x: np.ndarray, P: np.ndarray, dt: np.ndarray | float, accel_sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Predict ``x [K, 6]``, ``P [K, 6, 6]`` by ``dt`` (scalar or [K], s): ``F x``, ``F P F^T + Q``.

    ``F x`` is written out, ``(p + dt v, v)``; ``F`` and ``Q`` come from a per-``dt`` cache.
    ``dt = 0`` returns the state unchanged. Negative ``dt`` (retrodiction) is not a filter
    operation; callers that need it use ``Q(|dt|)`` themselves.
    """
    x = np.asarray(x, float)
    P = np.asarray(P, float)
    dt = np.asarray(dt, float)
    if dt.shape != x.shape[:1]:
        dt = np.full(x.shape[:1], dt)
    return _predict(x, P, dt, float(accel_sigma))


def _predict(
    x: np.ndarray, P: np.ndarray, dt: np.ndarray, accel_sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`predict` without argument checks (``dt [K]``)."""
    fq = np.array([_transition_and_noise(d, accel_sigma) for d in dt.tolist()])
    fq = fq.reshape(-1, 2, 6, 6)  # [K, (F, Q), 6, 6]
    F = fq[:, 0]
    x_new = x.copy()
    x_new[:, :3] += dt[:, None] * x[:, 3:]
    P_new = F @ P @ F.transpose(0, 2, 1) + fq[:, 1]
    return x_new, 0.5 * (P_new + P_new.transpose(0, 2, 1))


def predict_position(
    x_t: np.ndarray, P_t: np.ndarray, dt: np.ndarray, accel_sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Position part of :func:`predict`, tracks last: ``pos [3, K]`` and ``cov [9, K]``.

    ``x_t [6, K]`` is ``x.T`` and ``P_t [36, K]`` is ``P.reshape(K, 36).T``; ``cov`` is the
    predicted position covariance entries-first (``sym3``). With ``P = [[A, B], [B', C]]``
    (position, position-velocity, velocity-position, velocity blocks) and ``dt [K]``:

        pos = p + dt v
        cov = A + dt (B' + B + dt C) + q dt^3 / 3 I3      (q = accel_sigma^2)

    which is ``H (F P F^T + Q) H^T`` written out (no 6x6 products), equal to ``predict`` up
    to rounding. Enough for coverage, gating and the deletion test; the filter state itself
    always comes from :func:`predict`.
    """
    blocks = P_t[_BLOCKS]
    blocks[27::4] += float(accel_sigma) ** 2 / 3.0 * dt  # C + q dt/3 I (rows 27, 31, 35: C_ii)
    A, B_low, B_up, C = blocks[0:9], blocks[9:18], blocks[18:27], blocks[27:36]
    pos = x_t[:3] + dt * x_t[3:]
    cov = A + dt * ((B_low + B_up) + dt * C)
    return pos, cov


def convert_measurements(
    radar_pos: np.ndarray, z: np.ndarray, sigma: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Debiased converted measurements: ``zc [D, 3]`` local position, ``R [D, 3, 3]``.

    ``radar_pos`` [3] or [D, 3]; ``z`` [D, 3] (range m, az rad, el rad); ``sigma`` [3] or
    [D, 3] std of (range, az, el).

    With Gaussian angle errors, ``E[cos(a + e)] = lambda cos(a)`` and ``E[sin(a + e)] =
    lambda sin(a)`` with ``lambda = exp(-sigma_a^2 / 2)``, so the plain conversion shrinks the
    position toward the radar (a bias that matters when ``r sigma_az^2 / sigma_r`` is not small:
    long range, coarse angles). The multiplicative debiasing of Mo, Song, Zhou, Sun &
    Bar-Shalom (IEEE T-AES 34(3), 1998, "unbiased converted measurements") divides the
    horizontal range ``d = r cos(el)`` and height ``v = r sin(el)`` by ``lambda_el`` and the
    east/north components by ``lambda_az`` as well; the 4/3-earth drop ``d^2 / (2 k R)`` is then
    added with the debiased ``d``. The covariance is the linearised ``R = J diag(sigma^2) J^T``
    (``J = geo.polar_jacobian``), a standard and slightly optimistic approximation of the
    debiased conversion's covariance at large angle errors.
    """
    radar_pos = np.asarray(radar_pos, float)
    z = np.asarray(z, float).reshape(-1, 3)
    sigma = np.asarray(sigma, float)
    if radar_pos.ndim == 1:
        _, J = geo.polar_to_local_jacobian(radar_pos, z)
    else:
        J = geo.polar_jacobian(radar_pos, z)
    sig = np.broadcast_to(sigma, z.shape)
    lam_az = np.exp(-0.5 * sig[:, 1] ** 2)
    lam_el = np.exp(-0.5 * sig[:, 2] ** 2)
    r, az, el = z[:, 0], z[:, 1], z[:, 2]
    d = r * np.cos(el) / lam_el
    v = r * np.sin(el) / lam_el
    zc = np.empty_like(z)
    zc[:, 0] = d * np.sin(az) / lam_az
    zc[:, 1] = d * np.cos(az) / lam_az
    zc[:, 2] = v + geo.curvature_drop(d)
    zc += radar_pos
    R = (J * (sig**2)[..., None, :]) @ J.swapaxes(-1, -2)
    return zc, 0.5 * (R + R.swapaxes(-1, -2))


def update(
    x: np.ndarray, P: np.ndarray, zc: np.ndarray, R: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Kalman update of ``x [K, 6]``, ``P [K, 6, 6]`` with position measurements ``zc [K, 3]``,
    ``R [K, 3, 3]`` (``H = [I3 0]``); Joseph-form covariance, symmetrised.
    """
    x = np.asarray(x, float)
    P = np.asarray(P, float)
    if x.shape[0] == 0:
        return x.copy(), P.copy()
    return _update(x, P, np.asarray(zc, float), np.asarray(R, float))


def _update(
    x: np.ndarray, P: np.ndarray, zc: np.ndarray, R: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`update` without argument checks (at least one track): the shared kernel's
    Joseph-form update (:func:`iadsim.tracking.core.kalman_update`)."""
    return core.kalman_update(x, P, zc, R, joseph=True)


def _predict_update(
    x: np.ndarray,
    P: np.ndarray,
    dt: np.ndarray,
    accel_sigma: float,
    zc: np.ndarray,
    R: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``update(*predict(x, P, dt, accel_sigma), zc, R)`` without the argument checks."""
    return _update(*_predict(x, P, dt, accel_sigma), zc, R)
