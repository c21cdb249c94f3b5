"""Interacting multiple model filter for the simulator's 3-D track file (``tracker.filter: imm``).

Two nearly-constant-velocity models on the same 6-D state ``(e, n, u, ve, vn, vu)`` that differ
only in their white-noise acceleration: a quiet model (``accel_sigma_mps2``, straight flight)
and a manoeuvre model (``manoeuvre_accel_sigma_mps2``: turns at waypoints, terminal dives, pull-
ups, evasive turns, in any plane). This is the two-level-noise IMM of Bar-Shalom, Li &
Kirubarajan (*Estimation with Applications to Tracking and Navigation*, 2001, sec. 11.6.6-11.7;
Blom & Bar-Shalom, IEEE TAC 33(8), 1988): with the same state in both models the mixing is a
plain weighted sum, and every model step is the shared kernel's (``kalman`` prediction,
``core.kalman_update``). The mixing and the moment-matched combination are the 2-D IMM's
(:func:`iadsim.tracking.imm.mix`, :func:`iadsim.tracking.imm.combine`, generic in the state).

One cycle per update of a track, over ``dt = t - t_update`` (the track file keeps every track as
of its last update, so a missed scan makes the next prediction longer, and the Markov switch is
applied once per update interval, not once per scan: a simplification):

1. mixing with the transition matrix ``Pi`` (``p_stay`` on the diagonal) -> ``cbar``, ``x0_j``;
2. per-model prediction by ``dt`` with the model's process noise;
3. the combined prediction (``cbar``-weighted moments) serves coverage and deletion; gating
   and association use the combined mean with the *manoeuvre* model's covariance widened by
   the spread of the model means (:func:`gate_covariance`): gating on the largest innovation
   covariance among the models (Bar-Shalom et al. sec. 11.6.6) keeps the first plots of a
   manoeuvre in the gate while the quiet model still dominates; otherwise the association is
   the CV tracker's, unchanged;
4. an assigned plot updates each model (Joseph form); model likelihoods
   ``L_j = N(nu_j; 0, S_j)`` give ``mu_j ∝ cbar_j L_j``; the combination is the reported
   ``x, P``.
"""

from __future__ import annotations

import math

import numpy as np

from iadsim.tracking import core, imm
from iadsim.tracking.kalman import _predict

N_MODELS = 2
_LOG_2PI_3 = 3.0 * math.log(2.0 * math.pi)


def transition(p_stay: float) -> np.ndarray:
    """Markov matrix ``Pi [2, 2]`` with ``p_stay`` on the diagonal."""
    return np.array([[p_stay, 1.0 - p_stay], [1.0 - p_stay, p_stay]])


def mu0() -> np.ndarray:
    """Model probabilities of a new track: mostly quiet."""
    return np.array([0.9, 0.1])


def predict(xm: np.ndarray, Pm: np.ndarray, mu: np.ndarray, dt: np.ndarray,
            accels: tuple[float, float], p_stay: float):
    """Steps 1-2 for ``n`` tracks: ``xm [n, 2, 6]``, ``Pm [n, 2, 6, 6]``, ``mu [n, 2]``, ``dt [n]``.

    Returns ``cbar [n, 2]``, the per-model predictions ``xp [n, 2, 6]``, ``Pp [n, 2, 6, 6]``,
    and the combined prediction ``x [n, 6]``, ``P [n, 6, 6]``.
    """
    cbar, x0, P0 = imm.mix(mu, xm, Pm, transition(p_stay))
    xp, Pp = np.empty_like(x0), np.empty_like(P0)
    for j, a in enumerate(accels):
        xp[:, j], Pp[:, j] = _predict(x0[:, j], P0[:, j], dt, a)
    x, P = imm.combine(cbar, xp, Pp)
    return cbar, xp, Pp, x, 0.5 * (P + P.transpose(0, 2, 1))


def gate_covariance(xp: np.ndarray, Pp: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gating covariance of the combined prediction ``x [n, 6]``, entries-first ``[9, n]``:
    the manoeuvre model's position covariance plus the outer product of its mean's offset."""
    d = xp[:, 1, :3] - x[:, :3]
    cov = Pp[:, 1, :3, :3] + d[:, :, None] * d[:, None, :]
    return np.ascontiguousarray(cov.reshape(-1, 9).T)


def update(cbar: np.ndarray, xp: np.ndarray, Pp: np.ndarray, z: np.ndarray, R: np.ndarray):
    """Step 4 for ``n`` assigned tracks with plots ``z [n, 3]``, ``R [n, 3, 3]``.

    Returns the new ``mu [n, 2]``, ``xm [n, 2, 6]``, ``Pm [n, 2, 6, 6]`` and the combined
    ``x [n, 6]``, ``P [n, 6, 6]``.
    """
    n = z.shape[0]
    xm, Pm = np.empty_like(xp), np.empty_like(Pp)
    loglik = np.empty((n, N_MODELS))
    for j in range(N_MODELS):
        S = Pp[:, j, :3, :3] + R
        d2, det = core.mahalanobis(S, z - xp[:, j, :3])
        loglik[:, j] = -0.5 * (d2 + _LOG_2PI_3 + np.log(det))
        xm[:, j], Pm[:, j] = core.kalman_update(xp[:, j], Pp[:, j], z, R, joseph=True)
    w = np.log(np.maximum(cbar, 1e-300)) + loglik
    w = np.exp(w - w.max(axis=1, keepdims=True))
    mu = w / w.sum(axis=1, keepdims=True)
    x, P = imm.combine(mu, xm, Pm)
    return mu, xm, Pm, x, 0.5 * (P + P.transpose(0, 2, 1))
