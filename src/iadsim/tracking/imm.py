"""Interacting multiple model (IMM) filter over arrays, 2-D, with a PDA-style (soft) update.

State ``x = (x, y, vx, vy, omega)`` [m, m, m/s, m/s, rad/s], the same in every model so that
mixing is a plain weighted sum. Arrays are vectorised over tracks and models:
``x [K, M, 5]``, ``P [K, M, 5, 5]``, model probabilities ``mu [K, M]``.

Models (Bar-Shalom, Li & Kirubarajan, *Estimation with Applications to Tracking and
Navigation*, 2001, ch. 11.7):

- **CV** (nearly constant velocity): position/velocity follow the CWNA model of
  :func:`iadsim.tracking.cartesian.cv_model` with PSD ``q_cv``; the turn rate is zero under
  this model: ``omega' = 0`` with a small variance ``q_omega_cv dt`` (so a mixed CT estimate is
  pulled towards a straight line in proportion to ``mu_CV``).
- **CT** (coordinated turn, unknown rate; eq. 11.7.1-4), with ``s = sin(w T)``,
  ``c = cos(w T)``::

      x'  = x + vx s/w - vy (1-c)/w      vx' = vx c - vy s
      y'  = y + vx (1-c)/w + vy s/w      vy' = vx s + vy c      w' = w

  propagated by the EKF linearisation (Jacobian ``F = df/dx`` at the mixed mean, with the
  ``w -> 0`` limits ``s/w -> T``, ``(1-c)/w -> w T^2/2``), plus CWNA noise ``q_ct`` on
  position/velocity and a random-walk turn rate with PSD ``q_omega``.

One IMM cycle (Blom & Bar-Shalom, IEEE TAC 33(8), 1988; Bar-Shalom et al. sec. 11.6.6):

1. Mixing: ``cbar_j = sum_i Pi_ij mu_i``, ``mu_{i|j} = Pi_ij mu_i / cbar_j``,
   ``x0_j = sum_i mu_{i|j} x_i``,
   ``P0_j = sum_i mu_{i|j} (P_i + (x_i - x0_j)(x_i - x0_j)^T)``.
2. Model-conditioned prediction of ``(x0_j, P0_j)``.
3. Update with association weights from (J)PDA (see :func:`imm_update`): the model likelihoods
   and the PDA update of each model (Bar-Shalom, Daum & Huang, IEEE CSM 29(6), 2009, IMM-PDA).
4. Combination: ``x = sum_j mu_j x_j``, ``P = sum_j mu_j (P_j + (x_j - x)(x_j - x)^T)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iadsim.tracking.cartesian import cv_model

NX = 5  # state size (x, y, vx, vy, omega)
_TINY = 1e-300


@dataclass(frozen=True, slots=True)
class IMMModels:
    """Model settings. ``models`` picks ``("cv", "ct")`` or ``("cv",)`` (plain Kalman/PDA).

    Defaults, for targets that fly straight most of the time and make turns of 1 to 4 g lasting
    some 5 to 30 s (``/work/shared/tracking/FORMAT.md``), after Bar-Shalom et al. sec. 11.7.3
    and Blackman & Popoli (1999) sec. 4.5:

    - CV: low noise, ``sqrt(q_cv dt) ~ 3 m/s^2`` (the straight-flight jitter); the CV model is
      the precise one, the turns are the CT model's job.
    - CT: the turn rate is a random walk whose increment over one scan,
      ``sqrt(q_omega dt) ~ 0.06 rad/s``, is of the order of the turn-rate changes the model
      must follow (onsets and reversals of up to 0.2 rad/s happen within one scan);
      ``sqrt(q_ct dt) = 10 m/s^2 ~ 1 g`` covers what the turn-rate estimate misses while it
      converges (and the EKF linearisation error).
    - Transitions ``p_ii = 1 - dt / tau_i`` with the mean sojourn time ``tau_i`` in the model
      (Bar-Shalom et al. eq. 11.6.7-1): a turn lasts ~10 s (``p_CT,CT = 0.9``); straight legs
      last 100 s and more (``p_CV,CV = 0.99``).
    """

    models: tuple[str, ...] = ("cv", "ct")
    q_cv: float = 10.0  # m^2/s^3, CWNA PSD of the CV model
    q_ct: float = 100.0  # m^2/s^3, CWNA PSD of the CT model (position/velocity)
    q_omega: float = 4e-3  # rad^2/s^3, random-walk PSD of the CT turn rate
    q_omega_cv: float = 1e-6  # rad^2/s^2 per s, variance of omega under CV (kept ~0)
    # Markov probability of staying in each model per scan (one value: the same for all)
    p_stay: float | tuple[float, ...] = (0.99, 0.9)
    omega_sigma0: float = 0.05  # rad/s, prior std of omega of a new track
    mu0_ct: float = 0.2  # prior probability of CT for a new track

    def transition_matrix(self) -> np.ndarray:
        """``Pi [M, M]``, ``Pi_ij = P(model j at k | model i at k-1)``."""
        m = len(self.models)
        if m == 1:
            return np.ones((1, 1))
        stay = np.broadcast_to(np.asarray(self.p_stay, float), (m,))
        off = (1.0 - stay) / (m - 1)
        return np.repeat(off[:, None], m, axis=1) + np.diag(stay - off)

    def mu0(self) -> np.ndarray:
        if len(self.models) == 1:
            return np.ones(1)
        return np.array([1.0 - self.mu0_ct, self.mu0_ct])


def cv_predict(x: np.ndarray, P: np.ndarray, dt: float, q: float, q_w: float):
    """CV prediction of ``x [N, 5]``, ``P [N, 5, 5]``; omega reset to 0 (variance ``q_w dt``)."""
    F4, Q4 = cv_model(dt, q)
    F = np.zeros((NX, NX))
    F[:4, :4] = F4
    Q = np.zeros((NX, NX))
    Q[:4, :4] = Q4
    Q[4, 4] = q_w * dt
    return x @ F.T, F @ P @ F.T + Q


def ct_predict(x: np.ndarray, P: np.ndarray, dt: float, q: float, q_w: float):
    """EKF coordinated-turn prediction of ``x [N, 5]``, ``P [N, 5, 5]`` (equations above)."""
    px, py, vx, vy, w = x.T
    wt = w * dt
    s, c = np.sin(wt), np.cos(wt)
    small = np.abs(w) < 1e-6
    ws = np.where(small, 1.0, w)
    a = np.where(small, dt - w**2 * dt**3 / 6.0, s / ws)  # sin(wT)/w
    b = np.where(small, w * dt**2 / 2.0, (1.0 - c) / ws)  # (1-cos(wT))/w
    # d a / d w and d b / d w
    da = np.where(small, -w * dt**3 / 3.0, (dt * c - a) / ws)
    db = np.where(small, dt**2 / 2.0, (dt * s - b) / ws)
    xn = np.stack([px + a * vx - b * vy, py + b * vx + a * vy,
                   c * vx - s * vy, s * vx + c * vy, w], axis=1)
    n = x.shape[0]
    F = np.zeros((n, NX, NX))
    F[:, 0, 0] = F[:, 1, 1] = F[:, 4, 4] = 1.0
    F[:, 0, 2], F[:, 0, 3], F[:, 0, 4] = a, -b, da * vx - db * vy
    F[:, 1, 2], F[:, 1, 3], F[:, 1, 4] = b, a, db * vx + da * vy
    F[:, 2, 2], F[:, 2, 3], F[:, 2, 4] = c, -s, -dt * (s * vx + c * vy)
    F[:, 3, 2], F[:, 3, 3], F[:, 3, 4] = s, c, dt * (c * vx - s * vy)
    _, Q4 = cv_model(dt, q)
    Q = np.zeros((NX, NX))
    Q[:4, :4] = Q4
    Q[4, 4] = q_w * dt
    return xn, F @ P @ F.transpose(0, 2, 1) + Q


def mix(mu: np.ndarray, x: np.ndarray, P: np.ndarray, Pi: np.ndarray):
    """IMM mixing (step 1): returns ``cbar [K, M]``, ``x0 [K, M, 5]``, ``P0 [K, M, 5, 5]``."""
    cbar = mu @ Pi
    w = mu[:, :, None] * Pi[None] / np.maximum(cbar[:, None, :], _TINY)  # [K, i, j]
    x0 = np.einsum("kij,kin->kjn", w, x)
    d = x[:, :, None, :] - x0[:, None, :, :]  # [K, i, j, n]
    P0 = np.einsum("kij,kinm->kjnm", w, P) + np.einsum("kij,kijn,kijm->kjnm", w, d, d)
    return cbar, x0, P0


def predict(models: IMMModels, x0: np.ndarray, P0: np.ndarray, dt: float):
    """Model-conditioned predictions (step 2) of the mixed ``x0 [K, M, 5]``, ``P0``."""
    xs, Ps = np.empty_like(x0), np.empty_like(P0)
    for j, name in enumerate(models.models):
        if name == "cv":
            xs[:, j], Ps[:, j] = cv_predict(x0[:, j], P0[:, j], dt, models.q_cv, models.q_omega_cv)
        elif name == "ct":
            xs[:, j], Ps[:, j] = ct_predict(x0[:, j], P0[:, j], dt, models.q_ct, models.q_omega)
        else:
            raise ValueError(f"unknown model {name!r}")
    return xs, Ps


def combine(mu: np.ndarray, x: np.ndarray, P: np.ndarray):
    """Moment-matched combination (step 4): ``x [K, 5]``, ``P [K, 5, 5]``."""
    xc = np.einsum("kj,kjn->kn", mu, x)
    d = x - xc[:, None, :]
    Pc = np.einsum("kj,kjnm->knm", mu, P) + np.einsum("kj,kjn,kjm->knm", mu, d, d)
    return xc, Pc


def meas_likelihood(x: np.ndarray, P: np.ndarray, sigma: float, rows, z: np.ndarray):
    """``N(z_p; H x_{r_p, j}, S_{r_p, j})`` for pairs ``p`` -> ``[n_pairs, M]``, and ``nu``, ``S``.

    ``nu [n_pairs, M, 2]`` innovations, ``S [K, M, 2, 2]`` innovation covariances.
    """
    S = P[:, :, :2, :2] + np.eye(2) * sigma**2
    nu = z[:, None, :] - x[rows][:, :, :2]
    Sr = S[rows]
    det = Sr[..., 0, 0] * Sr[..., 1, 1] - Sr[..., 0, 1] ** 2
    d2 = (Sr[..., 1, 1] * nu[..., 0] ** 2 - 2 * Sr[..., 0, 1] * nu[..., 0] * nu[..., 1]
          + Sr[..., 0, 0] * nu[..., 1] ** 2) / det
    return np.exp(-0.5 * d2) / (2 * np.pi * np.sqrt(det)), nu, S


def imm_update(x, P, cbar, sigma: float, rows, z, beta, beta0):
    """IMM-PDA update of predicted ``x [K, M, 5]``, ``P`` with weighted detections.

    ``rows [n]`` track of each pair, ``z [n, 2]`` its detection, ``beta [n]`` the association
    probability of the pair and ``beta0 [K]`` that of "no detection" (each track's betas sum to
    1; hard GNN is ``beta = 1`` on the assigned pair). With ``N_pj`` the model-j likelihood of
    pair p and the mixture likelihood ``L_p = sum_j cbar_j N_pj`` used by the association:

    - model likelihood ``Lambda_j = beta0 + sum_p beta_p N_pj / L_p``, ``mu_j = cbar_j Lambda_j``
      (``sum_j mu_j = 1`` exactly: the posterior model probability averaged over associations);
    - per-model weights ``w_pj = beta_p N_pj / (L_p Lambda_j)``, ``w_0j = beta0 / Lambda_j``;
    - PDA update per model (Bar-Shalom et al. 2009, eqs. 37-41): ``nu_j = sum_p w_pj nu_pj``,
      ``x_j += K_j nu_j``, ``P_j = w_0j P_j + (1 - w_0j)(P_j - K_j S_j K_j^T)
      + K_j (sum_p w_pj nu_pj nu_pj^T - nu_j nu_j^T) K_j^T`` (the last term is the spread of
      the innovations).

    Returns updated ``(x, P, mu)``.
    """
    k_n, m_n = cbar.shape
    rows = np.asarray(rows, np.int64)
    N, nu, S = meas_likelihood(x, P, sigma, rows, z)
    L = np.maximum(np.einsum("pj,pj->p", cbar[rows], N), _TINY)
    r = beta[:, None] * N / L[:, None]  # [n, M]
    lam = np.broadcast_to(beta0[:, None], (k_n, m_n)).copy()
    np.add.at(lam, rows, r)
    mu = cbar * lam
    mu /= np.maximum(mu.sum(axis=1, keepdims=True), _TINY)
    lam = np.maximum(lam, _TINY)
    w = r / lam[rows]
    w0 = beta0[:, None] / lam  # [K, M]
    nu_bar = np.zeros((k_n, m_n, 2))
    np.add.at(nu_bar, rows, w[..., None] * nu)
    spread = np.zeros((k_n, m_n, 2, 2))
    np.add.at(spread, rows, w[..., None, None] * nu[..., :, None] * nu[..., None, :])
    spread -= nu_bar[..., :, None] * nu_bar[..., None, :]
    Kg = P[..., :, :2] @ np.linalg.inv(S)  # [K, M, 5, 2]
    xn = x + np.einsum("kmij,kmj->kmi", Kg, nu_bar)
    KSK = Kg @ S @ np.swapaxes(Kg, -1, -2)
    Pn = P - (1.0 - w0)[..., None, None] * KSK + Kg @ spread @ np.swapaxes(Kg, -1, -2)
    Pn = 0.5 * (Pn + np.swapaxes(Pn, -1, -2))
    return xn, Pn, mu
