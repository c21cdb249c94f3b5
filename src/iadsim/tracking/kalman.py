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
The linearised conversion is biased when the cross-range error is large, roughly when
``r * sigma_az^2 / sigma_r`` exceeds 0.4 (Lerro & Bar-Shalom, "Tracking with debiased consistent
converted measurements versus EKF", IEEE T-AES 29(3), 1993); their debiased conversion is a
later refinement.

Update: Kalman gain from the innovation covariance ``S = H P H^T + R``, covariance in Joseph form
``(I - K H) P (I - K H)^T + K R K^T`` (Bar-Shalom eq. 5.2.3-18), then symmetrised, which keeps
``P`` symmetric positive definite in floating point.
"""

from __future__ import annotations

import numpy as np

from iadsim import geo


def cv_transition(dt: np.ndarray | float) -> np.ndarray:
    """CV transition matrix ``[[I3, dt I3], [0, I3]]``: [6, 6] for scalar dt, [K, 6, 6] for [K]."""
    dt = np.asarray(dt, float)
    F = np.broadcast_to(np.eye(6), dt.shape + (6, 6)).copy()
    idx = np.arange(3)
    F[..., idx, idx + 3] = dt[..., None]
    return F


def cv_process_noise(dt: np.ndarray | float, accel_sigma: float) -> np.ndarray:
    """CWNA process noise (Bar-Shalom sec. 6.2.2): [6, 6] for scalar dt, [K, 6, 6] for [K].

    Per axis ``q * [[dt^3/3, dt^2/2], [dt^2/2, dt]]`` with ``q = accel_sigma^2`` [m^2/s^3].
    """
    dt = np.asarray(dt, float)
    q = float(accel_sigma) ** 2
    Q = np.zeros(dt.shape + (6, 6))
    idx = np.arange(3)
    pp = (q * dt**3 / 3.0)[..., None]
    pv = (q * dt**2 / 2.0)[..., None]
    vv = (q * dt)[..., None]
    Q[..., idx, idx] = pp
    Q[..., idx, idx + 3] = pv
    Q[..., idx + 3, idx] = pv
    Q[..., idx + 3, idx + 3] = vv
    return Q


def predict(
    x: np.ndarray, P: np.ndarray, dt: np.ndarray | float, accel_sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Predict ``x [K, 6]``, ``P [K, 6, 6]`` by ``dt`` (scalar or [K], s): ``F x``, ``F P F^T + Q``.

    ``dt = 0`` returns the state unchanged. Negative ``dt`` (retrodiction) is not a filter
    operation; callers that need it use ``Q(|dt|)`` themselves.
    """
    x = np.asarray(x, float)
    P = np.asarray(P, float)
    dt = np.broadcast_to(np.asarray(dt, float), x.shape[:1])
    F = cv_transition(dt)
    Q = cv_process_noise(dt, accel_sigma)
    x_new = np.einsum("kij,kj->ki", F, x)
    P_new = F @ P @ np.swapaxes(F, -1, -2) + Q
    return x_new, 0.5 * (P_new + np.swapaxes(P_new, -1, -2))


def convert_measurements(
    radar_pos: np.ndarray, z: np.ndarray, sigma: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Converted measurements: ``zc [D, 3]`` local position and ``R [D, 3, 3]`` covariance.

    ``radar_pos`` [3] or [D, 3]; ``z`` [D, 3] (range m, az rad, el rad); ``sigma`` [3] or
    [D, 3] std of (range, az, el). ``zc = geo.polar_to_local(radar_pos, z)``,
    ``R = J diag(sigma^2) J^T`` with ``J = geo.polar_jacobian`` (linearised conversion).
    """
    z = np.asarray(z, float).reshape(-1, 3)
    sigma = np.broadcast_to(np.asarray(sigma, float), z.shape)
    zc = geo.polar_to_local(radar_pos, z)
    J = geo.polar_jacobian(radar_pos, z)
    R = (J * (sigma**2)[:, None, :]) @ np.swapaxes(J, -1, -2)
    return zc, 0.5 * (R + np.swapaxes(R, -1, -2))


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
    S = P[:, :3, :3] + R
    PHt = P[:, :, :3]  # [K, 6, 3]
    # K = P H^T S^-1  <=>  K^T = S^-1 (P H^T)^T  (S symmetric)
    gain = np.swapaxes(np.linalg.solve(S, np.swapaxes(PHt, -1, -2)), -1, -2)  # [K, 6, 3]
    nu = zc - x[:, :3]
    x_new = x + np.einsum("kij,kj->ki", gain, nu)
    ikh = np.broadcast_to(np.eye(6), P.shape).copy()
    ikh[:, :, :3] -= gain
    P_new = ikh @ P @ np.swapaxes(ikh, -1, -2) + gain @ R @ np.swapaxes(gain, -1, -2)
    return x_new, 0.5 * (P_new + np.swapaxes(P_new, -1, -2))
