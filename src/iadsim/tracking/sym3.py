"""Closed-form algebra of batches of 3x3 matrices stored entries-first.

The tracker works with a few dozen 3x3 position covariances per scan. For such tiny stacks
the LAPACK routines behind ``np.linalg`` (solve, slogdet, eigvalsh) cost far more in per-call
overhead than in arithmetic, and so do NumPy operations on ``[K, 3, 3]`` arrays (their inner
loops have 3 elements). These helpers therefore take matrices *entries-first*: ``A [9, ...]``
with ``A[3 i + j]`` the ``[...]`` array of entry ``(i, j)`` (``M.reshape(K, 9).T`` of a
``[K, 3, 3]`` stack ``M``), so that every operation runs over the batch in one inner loop.

(The Mahalanobis distances themselves, by cofactors, are the shared kernel's:
``core.mahalanobis``.)

Largest eigenvalue, bounds only (:func:`max_eigenvalue_bounds`): cheap, tight for the
nearly diagonal or strongly elongated covariances of tracking, and enough to decide most
threshold tests without an eigen-solver.
"""

from __future__ import annotations

import numpy as np

DIAG = slice(0, 9, 4)  # entries (0, 0), (1, 1), (2, 2)


def trace(A: np.ndarray) -> np.ndarray:
    """``A[0, 0] + A[1, 1] + A[2, 2]`` for ``A [9, ...]``."""
    return A[0] + A[4] + A[8]


def max_eigenvalue_bounds(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` with ``lo <= lambda_max(A) <= hi`` for positive-definite ``A [9, ...]``.

    With row ``a_i`` of ``A``: ``A_ii lambda_max >= e_i^T A^2 e_i = |a_i|^2`` (Cauchy-Schwarz
    in the ``A`` inner product), so ``lo = max_i |a_i|^2 / A_ii`` (at least ``max_i A_ii``,
    exact for rank one); ``hi = min(tr A, max_i sum_j |A_ij|)`` (the eigenvalues are positive;
    Gershgorin's circle theorem). Both are exact for a diagonal matrix.
    """
    sq = A * A
    lo = ((sq[0::3] + sq[1::3] + sq[2::3]) / A[DIAG]).max(axis=0)
    a = np.abs(A)
    hi = np.minimum((a[0::3] + a[1::3] + a[2::3]).max(axis=0), trace(A))
    return lo, hi
