"""Certified lower bounds for the static WTA problem, and an exact MILP for small instances.

Log formulation (Ahuja et al. 2007, section 3): with ``a_ij = -ln(1 - p_ij) >= 0`` and
``y_j = sum_i a_ij x_ij`` the objective is ``sum_j w_j exp(-y_j)``, convex in y.

Lagrangian bound. Relax the capacities with prices ``lam_i >= 0`` and the integrality of x
(keeping ``0 <= x_ij <= mu_i``). The problem separates by target:

    L(lam) = sum_j min_{0 <= x_.j <= mu} [w_j exp(-y_j) + sum_i lam_i x_ij] - sum_i lam_i mu_i,

and for each target the cheapest way to reach log-kill ``y`` uses the weapons in increasing
``lam_i / a_ij`` (a fractional knapsack), so the cost of ``y`` is piecewise linear and convex
and the one-dimensional minimum is found segment by segment in closed form. Every
``lam >= 0`` gives a valid bound; it is raised by projected subgradient steps with the Polyak
step length (Held, Wolfe & Crowder 1974) toward a known upper bound. The reported bound is
lowered by a relative 1e-9 and by the effect of clipping ``p = 1`` (``wta.P_CLIP``), so it is
a bound on the exact objective despite rounding.

MILP. ``x`` integer, one variable ``z_j`` per target above tangent lines of ``exp(-y)``
(exp is convex, so every tangent lies below it and the MILP optimum is a lower bound). When the
tangents are placed at every attainable value of ``y_j`` (few on small instances), the
piecewise-linear function equals ``exp(-y)`` at all integer points and the MILP is exact.
Solved by HiGHS through ``scipy.optimize.milp``; its dual bound is the certified bound.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np

from iadsim.assignment.wta import P_CLIP, Solution, WTAInstance, objective

_REL_SLACK = 1e-9


def _clip_slack(inst: WTAInstance) -> float:
    """How much clipping p to P_CLIP can raise the objective: survival <= 1 - P_CLIP on the
    targets that a p = 1 weapon can reach."""
    reach = (inst.p > P_CLIP).any(axis=0)
    return float(inst.values[reach].sum()) * (1.0 - P_CLIP)


def _conservative(inst: WTAInstance, value: float) -> float:
    return value - _REL_SLACK * abs(value) - _clip_slack(inst) - 1e-12


def lagrangian_value(inst: WTAInstance, lam: np.ndarray) -> tuple[float, np.ndarray]:
    """L(lam) and a supergradient ``sum_j x_ij - mu_i`` ([m]); vectorised over [m, n]."""
    a = -inst.logq  # [m, n] >= 0
    lam = np.maximum(lam, 0.0)
    useful = a > 0
    ratio = np.where(useful, lam[:, None] / np.where(useful, a, 1.0), np.inf)
    order = np.argsort(ratio, axis=0, kind="stable")  # [m, n] weapons by price per log-kill
    s = np.take_along_axis(ratio, order, axis=0)
    seg = np.take_along_axis(np.where(useful, a * inst.mu[:, None], 0.0), order, axis=0)
    s_fin = np.where(np.isfinite(s), s, 0.0)
    y_hi = np.cumsum(seg, axis=0)
    y_lo = y_hi - seg
    c_lo = np.cumsum(s_fin * seg, axis=0) - s_fin * seg  # cost of reaching y_lo
    w = inst.values[None, :]
    with np.errstate(divide="ignore"):
        y_star = np.where(s_fin > 0, np.log(np.where(s_fin > 0, w, 1.0) / np.where(
            s_fin > 0, s_fin, 1.0)), np.inf)
    y_star = np.where(w > 0, y_star, -np.inf)
    y = np.clip(y_star, y_lo, y_hi)
    h = w * np.exp(-y) + c_lo + s_fin * (y - y_lo)
    h = np.where(seg > 0, h, np.inf)
    h0 = inst.values.astype(float)  # y = 0: nothing fired
    k = np.argmin(h, axis=0)
    hk = h[k, np.arange(inst.n)]
    take = hk < h0
    val = float(np.where(take, hk, h0).sum() - lam @ inst.mu)
    # usage: segments before k full, segment k partly, none after
    yk = y[k, np.arange(inst.n)]
    frac = np.zeros_like(seg)
    rank = np.arange(inst.m)[:, None]
    frac[rank < k[None, :]] = 1.0
    part = np.where(seg[k, np.arange(inst.n)] > 0, (yk - y_lo[k, np.arange(inst.n)])
                    / np.where(seg[k, np.arange(inst.n)] > 0, seg[k, np.arange(inst.n)], 1.0), 0)
    frac[k, np.arange(inst.n)] = part
    frac[:, ~take] = 0.0
    x = np.zeros_like(frac)
    np.put_along_axis(x, order, frac * np.take_along_axis(
        np.broadcast_to(inst.mu[:, None], a.shape).astype(float), order, axis=0), axis=0)
    x = np.where(useful, x, 0.0)
    return val, x.sum(axis=1) - inst.mu


def lagrangian_bound(inst: WTAInstance, upper: float, x_hint: np.ndarray | None = None,
                     time_limit: float = 1.0, max_iter: int = 500) -> float:
    """Best Lagrangian bound found by projected subgradient in the time limit (certified)."""
    t0 = time.perf_counter()
    if x_hint is not None:
        # start from the value of one more round of each weapon at the hint solution
        v = inst.values * np.exp((x_hint * inst.logq).sum(axis=0))
        lam = (v[None, :] * (1.0 - inst.q)).max(axis=1)
    else:
        lam = np.full(inst.m, float(inst.values.mean()) * 0.1)
    best = -math.inf
    theta = 1.0
    stall = 0
    for _ in range(max_iter):
        val, g = lagrangian_value(inst, lam)
        if val > best + 1e-9 * abs(best if math.isfinite(best) else 1.0):
            best, stall = val, 0
        else:
            stall += 1
            if stall >= 10:
                theta, stall = theta * 0.5, 0
        gg = float(g @ g)
        if gg == 0.0 or theta < 1e-6 or time.perf_counter() - t0 > time_limit:
            break
        step = theta * max(upper - val, 1e-12 * abs(upper)) / gg
        lam = np.maximum(lam + step * g, 0.0)
    return max(_conservative(inst, best), 0.0) if math.isfinite(best) else 0.0


def _attainable(a: np.ndarray, mu: np.ndarray, cap: int) -> np.ndarray | None:
    """All values of sum_i a_i k_i, 0 <= k_i <= mu_i (None if more than ``cap``)."""
    live = a > 0
    if math.prod(int(u) + 1 for u in mu[live]) > cap:
        return None
    pts = np.zeros(1)
    for ai, ui in zip(a[live], mu[live], strict=True):
        pts = (pts[:, None] + ai * np.arange(ui + 1)[None, :]).ravel()
    return np.unique(pts)


def milp(inst: WTAInstance, time_limit: float = 10.0, tangents: int = 24,
         exact_points: int = 256, x_hint: np.ndarray | None = None) -> Solution:
    """Solve the tangent-line MILP with HiGHS; exact when every target has at most
    ``exact_points`` attainable log-kill values, else a bound with ``tangents`` cuts per target
    on ``[0, y_max]`` (plus one at the log-kill of ``x_hint``, where the optimum likely lies).
    The returned solution's objective is evaluated exactly; its lower bound is HiGHS' dual
    bound made conservative."""
    from scipy.optimize import Bounds, LinearConstraint
    from scipy.optimize import milp as scipy_milp
    from scipy.sparse import coo_array

    t0 = time.perf_counter()
    m, n = inst.m, inst.n
    a = -inst.logq
    nx = m * n
    ymax = (a * inst.mu[:, None]).sum(axis=0)
    hint_y = None if x_hint is None else (a * x_hint).sum(axis=0)
    pts_j, exact = [], True
    for j in range(n):
        pts = _attainable(a[:, j], inst.mu, exact_points)
        if pts is None:
            exact = False
            pts = np.concatenate([[0.0], np.geomspace(1e-3, max(ymax[j], 1e-3), tangents - 1)])
            if hint_y is not None:
                pts = np.append(pts, hint_y[j])
        pts_j.append(pts)
    tj = np.repeat(np.arange(n), [p.size for p in pts_j])  # [R] target of each cut
    tp = np.concatenate(pts_j)  # [R] tangent point
    e = np.exp(-tp)
    nr = tp.size
    # cut r: z_j + e^{-t} sum_i a_ij x_ij >= e^{-t} (1 + t)
    rows = np.concatenate([np.repeat(np.arange(nr), m), np.arange(nr)])
    cols = np.concatenate([(np.arange(m)[None, :] * n + tj[:, None]).ravel(), nx + tj])
    vals = np.concatenate([(e[:, None] * a[:, tj].T).ravel(), np.ones(nr)])
    cut = coo_array((vals, (rows, cols)), shape=(nr, nx + n))
    capm = coo_array((np.ones(nx), (np.repeat(np.arange(m), n), np.arange(nx))),
                     shape=(m, nx + n))
    cons = [LinearConstraint(cut, lb=e * (1.0 + tp), ub=np.inf),
            LinearConstraint(capm, lb=-np.inf, ub=inst.mu.astype(float))]
    c = np.concatenate([np.zeros(nx), inst.values])
    integrality = np.concatenate([np.ones(nx), np.zeros(n)])
    ub = np.concatenate([np.repeat(inst.mu.astype(float), n), np.full(n, np.inf)])
    left = time_limit - (time.perf_counter() - t0)
    res = scipy_milp(c, constraints=cons, integrality=integrality,
                     bounds=Bounds(np.zeros(nx + n), ub),
                     options={"time_limit": max(left, 0.05), "mip_rel_gap": 1e-9,
                              "disp": False})
    if res.x is None:
        x = np.zeros((m, n), dtype=np.int64) if x_hint is None else np.array(x_hint)
    else:
        x = np.rint(res.x[:nx]).astype(np.int64).reshape(m, n)
    dual = getattr(res, "mip_dual_bound", None)
    if dual is None or not np.isfinite(dual):
        dual = res.fun if (res.status == 0 and exact) else 0.0
    # HiGHS' feasibility tolerance (1e-7 per cut, weighted by w_j) on top of the usual slack
    lb = max(_conservative(inst, float(dual)) - 1e-7 * float(inst.values.sum()), 0.0)
    obj = objective(inst, x)
    return Solution(x=x, objective=obj, solver="milp", lower_bound=min(lb, obj),
                    iterations=1, seconds=time.perf_counter() - t0)


def lower_bound(inst: WTAInstance, time_limit: float, upper: float,
                x_hint: np.ndarray | None = None, milp_max_pairs: int = 20_000) -> float:
    """The best certified bound in about ``time_limit`` s: the Lagrangian bound, then on
    instances with at most ``milp_max_pairs`` pairs the tangent MILP's dual bound (HiGHS does
    not honour short limits on larger models), whichever is higher."""
    t0 = time.perf_counter()
    use_milp = inst.m * inst.n <= milp_max_pairs
    share = 0.2 if use_milp else 1.0
    best = max(lagrangian_bound(inst, upper, x_hint, share * time_limit, max_iter=100_000), 0.0)
    left = time_limit - (time.perf_counter() - t0)
    if use_milp and left > 0.05:
        best = max(best, milp(inst, left, x_hint=x_hint).lower_bound)
    return best


def brute_force(inst: WTAInstance) -> tuple[float, np.ndarray]:
    """Enumerate every assignment (tiny instances only): (optimum, x)."""
    per_weapon = []
    for i in range(inst.m):
        opts = [c for c in itertools.product(range(int(inst.mu[i]) + 1), repeat=inst.n)
                if sum(c) == inst.mu[i]]
        per_weapon.append(opts)
    best, best_x = math.inf, None
    for combo in itertools.product(*per_weapon):
        x = np.array(combo, dtype=np.int64).reshape(inst.m, inst.n)
        f = objective(inst, x)
        if f < best:
            best, best_x = f, x
    return best, best_x
