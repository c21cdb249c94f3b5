"""Column generation for the static WTA problem: a certified Lagrangian bound and
price-and-branch solutions.

Set-partitioning view (after Ahuja et al., Operations Research 55(6), 2007, section 5, and
the branch-and-price literature on WTA). A *column* for target ``j`` is a multiset of shots
``x_.j`` (usually 0-4 rounds) with cost ``c_jS = w_j prod_i (1 - p_ij)^x_ij``; the master LP

    minimise  sum_{j,S} c_jS y_jS
    s.t.      sum_S y_jS = 1                         (every target gets one column)
              sum_{j,S} x_iS y_jS <= mu_i            (capacities, duals -pi_i <= 0)
              y >= 0

is solved by HiGHS over a growing set of columns (``master.MasterLP``: warm-started
simplex, ``linprog`` as the fallback).

Pricing. For capacity prices ``pi >= 0`` the Lagrangian subproblem of target ``j`` is

    g_j(pi) = min over integers 0 <= x_ij <= mu_i of  w_j prod_i q_ij^x_ij + sum_i pi_i x_ij,

and ``L(pi) = sum_j g_j(pi) - sum_i pi_i mu_i`` is a lower bound on the WTA optimum for *every*
``pi >= 0`` (weak duality; the capacities are the only coupling constraints). It equals the
master LP value when no column prices out, and is far stronger than the continuous relaxation
because the per-target problem keeps x integer. ``g_j`` is computed exactly by enumerating
multisets in increasing weapon index, level by level for all targets at once, with the prune:

    a shot of weapon ``i`` can extend a partial multiset with surviving value ``V`` only if
    ``pi_i < V p_ij``.

Why it is exact: take an optimal multiset with the fewest shots. Removing one of its shots of
weapon ``i`` raises the cost strictly, i.e. ``V_{-i} p_ij > pi_i`` with ``V_{-i}`` the surviving
value without that shot; every prefix of the multiset that lacks this shot has a surviving
value ``>= V_{-i}`` (fewer shots), so the prune never cuts the optimum. When a target's
enumeration exceeds its state budget, its ``g_j`` is replaced by the valid relaxation
``min_y w e^{-y} + r y`` with ``r = min_i pi_i / a_ij`` (``a = -ln q``), so the bound stays
certified. The reported bound is lowered by a relative 1e-9 (``bound._conservative``).

Price and branch. The integer master over the generated columns (``scipy.optimize.milp``)
gives a feasible assignment; the LP optimum of a tight set-partitioning master is usually
almost integral, so this is the strongest primal method here.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

_PRUNE_REL = 1e-9  # prune only when pi_i exceeds V p_ij by this relative margin (float safety)
_MAX_CELLS = 4_000_000  # cap on the [states, candidates] work arrays of one pricing level


@dataclass(slots=True)
class ColumnPool:
    """The generated columns (mutable: columns are appended during generation).

    target: [C] int target of each column;  cost: [C] w_j prod (1-p)^x (exact p)
    rows / cols / cnt: COO triplets of the [m, C] shot-count matrix
    """

    m: int
    n: int
    target: list[int] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    cols: list[int] = field(default_factory=list)
    cnt: list[int] = field(default_factory=list)
    index: dict[bytes, int] = field(default_factory=dict)  # column key -> column

    def __len__(self) -> int:
        return len(self.target)

    def add(self, j: int, weapons: np.ndarray, counts: np.ndarray, cost: float) -> bool:
        """Add the column (target j, shots weapons x counts; weapons in increasing order);
        False if it is already there."""
        key = np.concatenate([[j], weapons, counts]).astype(np.int64).tobytes()
        if key in self.index:
            return False
        c = len(self.target)
        self.index[key] = c
        self.target.append(int(j))
        self.cost.append(float(cost))
        self.rows.extend(int(i) for i in weapons)
        self.cols.extend([c] * len(weapons))
        self.cnt.extend(int(k) for k in counts)
        return True

    def add_assignment(self, p: np.ndarray, values: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Add the column of every target in the assignment ``x`` ([m, n]); returns the [C]
        bool mask of these columns (the integer master solution that is ``x``)."""
        x = np.asarray(x, np.int64)
        cost = values * np.prod((1.0 - p) ** x, axis=0)  # as wta.objective evaluates it
        tj, wi = np.nonzero(x.T)  # by target, weapons increasing
        bounds = np.searchsorted(tj, np.arange(self.n + 1))
        cols = []
        for j in range(self.n):
            w = wi[bounds[j]:bounds[j + 1]]
            k = x[w, j]
            key = np.concatenate([[j], w, k]).astype(np.int64).tobytes()
            c = self.index.get(key)
            if c is None:
                self.add(j, w, k, float(cost[j]))
                c = len(self) - 1
            cols.append(c)
        chosen = np.zeros(len(self), dtype=bool)
        chosen[cols] = True
        return chosen

    def matrix(self):
        """The [m, C] sparse shot-count matrix (CSC)."""
        from scipy.sparse import csc_array

        return csc_array((np.asarray(self.cnt, float), (np.asarray(self.rows, np.int64),
                          np.asarray(self.cols, np.int64))), shape=(self.m, len(self)))


@dataclass(frozen=True, slots=True)
class Pricing:
    """Result of exact pricing at prices ``pi``.

    g: [n] per-target minimum of ``w_j prod q^x + pi.x`` (or a valid lower bound on it where
    ``exact`` is False); cols: (target, weapons, counts, value w prod q^x, reduced cost
    g-part) for the best few multisets of each target.
    """

    g: np.ndarray
    exact: np.ndarray
    cols: list[tuple[int, np.ndarray, np.ndarray, float, float]]
    states: int


def _tail(v: np.ndarray, r: np.ndarray) -> np.ndarray:
    """min over y >= 0 of ``v e^{-y} + r y``: ``v`` if r >= v, else ``r (1 + ln(v / r))``
    (0 when r = 0). A lower bound on what shots with price per log-kill >= r can achieve."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = r * (1.0 + np.log(v) - np.log(r))  # not log(v / r): v / r overflows for tiny r
    return np.where(r >= v, v, np.where(r > 0, inner, 0.0))


def _greedy_value(cp: np.ndarray, cpi: np.ndarray, cmu: np.ndarray, w: np.ndarray,
                  steps: int) -> np.ndarray:
    """[n] value of a greedy multiset per target over the candidate weapons given as [n, k]
    arrays (probability, price, capacity; ``cpi = inf`` marks a missing candidate): add the
    best marginal shot while it helps. An incumbent for pricing."""
    n = w.size
    ok = np.isfinite(cpi)
    cp = np.where(ok, cp, 0.0)
    cpi = np.where(ok, cpi, np.inf)
    gv, gc = w.astype(float).copy(), np.zeros(n)
    used = np.zeros(cp.shape, dtype=np.int64)
    rows = np.arange(n)
    for _ in range(steps):
        gain = np.where(ok & (used < cmu), gv[:, None] * cp - cpi, -np.inf)
        b = np.argmax(gain, axis=1)
        go = gain[rows, b] > 0
        if not go.any():
            break
        gv = np.where(go, gv * (1.0 - cp[rows, b]), gv)
        gc = np.where(go, gc + cpi[rows, b], gc)
        used[rows[go], b[go]] += 1
    return gv + gc


def _rank_cut(cr: np.ndarray, K: int, t: np.ndarray, lo: np.ndarray, hi: np.ndarray,
              v: np.ndarray, c: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Per state, the first rank ``r`` in ``[lo, hi)`` with ``c + _tail(v, cr[t, r]) >=
    limit`` (``hi`` if none); ``cr`` rows are sorted, so the test is monotone in ``r``."""
    lo, hi = lo.copy(), hi.copy()
    flat = cr.ravel()
    base = t * K
    while True:
        open_ = lo < hi
        if not open_.any():
            return lo
        mid = (lo + hi) // 2
        ok = open_ & (c + _tail(v, flat[base + np.minimum(mid, K - 1)]) < limit)
        lo = np.where(ok, mid + 1, lo)
        hi = np.where(open_ & ~ok, mid, hi)


class Pricer:
    """Exact pricing for one instance: the price-independent arrays (``a = -ln q``, the
    target-major transposes) are computed once, and each call does the work of one price vector.

    ``pricer(pi, ...)`` returns a ``Pricing``: for every target the minimum over multisets of
    ``w_j prod q^x + pi.x``, by a breadth-first branch and bound vectorised over all targets and
    states. Weapons are ranked per target by price per log-kill ``pi_i / a_ij`` and multisets
    enumerated in rank order, so every shot added after rank ``r`` costs at least ``pi_r / a_r``
    per unit of log-kill and a state with surviving value ``V`` and price ``c`` can reach no
    less than ``c + _tail(V, ratio_r)``; such states are dropped when that bound is not below
    the target's incumbent (a greedy multiset, or ``incumbent``). Extensions must also satisfy
    ``pi_i < V p_ij`` (module docstring). Each level extends a state only by the ranks it can
    take (from its last shot's rank to the target's last candidate), as one flat array of
    (state, rank) pairs filtered cheapest test first. A target whose live states exceed
    ``target_budget`` is truncated and flagged inexact; its ``g`` is then the valid relaxation
    ``_tail(w, min_i ratio)``.

    With ``slack > 0`` it also returns every multiset whose value is within ``slack`` of the
    target's minimum (reduced-cost enumeration): both prunes are loosened by ``slack``, since
    a multiset within ``slack`` of the minimum has ``pi_i <= V_{-i} p_ij + slack`` for each of
    its shots (removing one leaves a multiset no better than the minimum).

    With ``duals = (pi_lp, sigma)`` (the master LP's), only columns with a negative reduced
    cost ``w prod q^x + pi_lp.x - sigma_j`` there are returned (column generation adds no
    other), so the multisets of the rest are never rebuilt.
    """

    def __init__(self, p: np.ndarray, values: np.ndarray, mu: np.ndarray) -> None:
        self.p = np.asarray(p, float)
        self.values = np.asarray(values, float)
        self.mu = np.asarray(mu)
        self.pT = np.ascontiguousarray(self.p.T)  # [n, m]
        with np.errstate(divide="ignore"):
            self.aT = -np.log1p(-self.pT)  # inf where p = 1
        self.wpT = self.values[:, None] * self.pT
        self.armed = (self.mu > 0)[None, :] & (self.aT > 0)

    def __call__(self, pi: np.ndarray, keep: int = 3, target_budget: int = 2000,
                 incumbent: np.ndarray | None = None, greedy_steps: int = 8,
                 slack: float = 0.0,
                 duals: tuple[np.ndarray, np.ndarray] | None = None) -> Pricing:
        n, m = self.pT.shape
        pi = np.maximum(np.asarray(pi, float), 0.0)
        w = self.values
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ratio = pi[None, :] / self.aT  # 0 where p = 1, inf where p ~ 0
        ratio = np.where(self.armed & (pi[None, :] < self.wpT + slack), ratio, np.inf)
        # any fixed order of equal ratios is valid (the tail bound only needs ranks sorted)
        cid = np.argsort(ratio, axis=1)  # [n, m] weapons by price per log-kill
        cr = np.take_along_axis(ratio, cid, axis=1)
        cp = np.take_along_axis(self.pT, cid, axis=1)
        cpi = pi[cid]
        U = w.copy() if incumbent is None else np.minimum(w, incumbent)
        k = min(16, m)
        U = np.minimum(U, _greedy_value(cp[:, :k], np.where(np.isfinite(cr[:, :k]),
                                                            cpi[:, :k], np.inf),
                                        self.mu[cid[:, :k]], w, greedy_steps))
        # a shot of weapon i in a multiset worth <= U + slack has pi_i <= V_{-i} p + slack with
        # V_{-i} = V / q and V <= U + slack - pi_i, hence pi_i <= (U + slack) p + slack q
        valid = np.isfinite(cr) & (cpi < (U[:, None] + slack) * cp + slack * (1.0 - cp)
                                   + _PRUNE_REL * cpi)
        length = np.where(valid.any(axis=1), m - np.argmax(valid[:, ::-1], axis=1), 0)
        K = max(int(length.max()) if n else 0, 1)
        cid, cr, cp, cpi, valid = (a[:, :K] for a in (cid, cr, cp, cpi, valid))
        f_cr, f_cp, f_cpi, f_valid = (a.ravel() for a in (cr, cp, cpi, valid))
        f_cid = cid.ravel()
        pi_lp = None if duals is None else np.maximum(np.asarray(duals[0], float), 0.0)
        st_t = np.arange(n)
        st_v = w.copy()
        st_c = np.zeros(n)
        st_c2 = np.zeros(n)
        st_last = np.full(n, -1, dtype=np.int64)
        st_run = np.zeros(n, dtype=np.int64)
        levels = [(st_t, np.full(n, -1), np.full(n, -1))]
        rec_t, rec_v, rec_c, rec_c2 = [st_t], [st_v], [st_c], [st_c2]
        exact = np.ones(n, dtype=bool)
        states = n
        while st_t.size:
            lo = np.maximum(st_last, 0)
            # shots of rank >= r add at least ratio_r per log-kill, so a state (V, c) can reach
            # no less than c + _tail(V, ratio_r), which grows with r: the ranks worth trying
            # are a prefix, found by bisection
            end = _rank_cut(cr, K, st_t, lo, length[st_t], st_v, st_c,
                            U[st_t] * (1.0 + _PRUNE_REL) + slack)
            span = np.maximum(end - lo, 0)
            total = int(span.sum())
            if total == 0:
                break
            s = np.repeat(np.arange(st_t.size), span)
            rk = lo[s] + np.arange(total) - np.repeat(np.cumsum(span) - span, span)
            f = st_t[s] * K + rk
            ok = f_valid[f] & ((rk != st_last[s]) | (st_run[s] < self.mu[f_cid[f]]))
            s, rk, f = s[ok], rk[ok], f[ok]
            v = st_v[s]
            pf, pif = f_cp[f], f_cpi[f]
            ok = pif * (1.0 + _PRUNE_REL) < v * pf + slack
            s, rk, f, v, pf, pif = s[ok], rk[ok], f[ok], v[ok], pf[ok], pif[ok]
            t_new = st_t[s]
            v_new = v * (1.0 - pf)
            c_new = st_c[s] + pif
            ok = c_new + _tail(v_new, f_cr[f]) < U[t_new] * (1.0 + _PRUNE_REL) + slack
            if not ok.any():
                break
            s, rk, f, t_new, v_new, c_new = s[ok], rk[ok], f[ok], t_new[ok], v_new[ok], \
                c_new[ok]
            run_new = np.where(rk == st_last[s], st_run[s] + 1, 1)
            counts = np.bincount(t_new, minlength=n)
            # the next level's pair arrays stay under ~_MAX_CELLS entries
            budget = min(target_budget,
                         max(1, _MAX_CELLS // (K * max(1, int((counts > 0).sum())))))
            over = counts > budget
            if over.any():
                exact[over] = False
                order = np.lexsort((v_new + c_new, t_new))
                start = np.cumsum(counts) - counts
                rank_in = np.empty(order.size, dtype=np.int64)
                rank_in[order] = np.arange(order.size) - np.repeat(start, counts)
                sel = rank_in < budget
                s, rk, f, t_new, v_new, c_new, run_new = (a[sel] for a in (
                    s, rk, f, t_new, v_new, c_new, run_new))
            np.minimum.at(U, t_new, v_new + c_new)
            c2_new = st_c2[s] + pi_lp[f_cid[f]] if pi_lp is not None else c_new
            levels.append((t_new, s, rk))
            rec_t.append(t_new)
            rec_v.append(v_new)
            rec_c.append(c_new)
            rec_c2.append(c2_new)
            st_t, st_v, st_c, st_c2, st_last, st_run = t_new, v_new, c_new, c2_new, rk, run_new
            states += t_new.size
        allt = np.concatenate(rec_t)
        allv = np.concatenate(rec_v) + np.concatenate(rec_c)
        alll = np.repeat(np.arange(len(rec_t)), [a.size for a in rec_t])
        alli = np.concatenate([np.arange(a.size) for a in rec_t])
        g = U.copy()
        if not exact.all():
            rmin = np.where(valid, cr, np.inf).min(axis=1)
            g = np.where(exact, g, np.minimum(g, _tail(w, rmin)))
        order = np.lexsort((allv, allt))
        cnt = np.bincount(allt, minlength=n)
        start = np.cumsum(cnt) - cnt
        rank_in = np.empty(order.size, dtype=np.int64)
        rank_in[order] = np.arange(order.size) - np.repeat(start, cnt)
        near = allv <= g[allt] + slack if slack > 0 else np.zeros(allv.size, dtype=bool)
        want = ((rank_in < keep) | near) & (alll > 0)
        if duals is not None:
            sigma = np.asarray(duals[1], float)
            rc = np.concatenate(rec_v) + np.concatenate(rec_c2) - sigma[allt]
            want &= rc < -1e-9 * np.maximum(1.0, np.abs(sigma[allt]))
        pick = np.nonzero(want)[0]
        return Pricing(g=g, exact=exact, cols=_rebuild(self.p, w, cid, levels, allt[pick],
                                                       alll[pick], alli[pick], allv[pick]),
                       states=states)


def price(p: np.ndarray, values: np.ndarray, mu: np.ndarray, pi: np.ndarray,
          **options) -> Pricing:
    """Exact pricing at prices ``pi >= 0`` (``Pricer``; for repeated calls on one instance,
    build the ``Pricer`` once)."""
    return Pricer(p, values, mu)(pi, **options)


def _rebuild(p: np.ndarray, values: np.ndarray, cid: np.ndarray, levels: list, t: np.ndarray,
             lvl: np.ndarray, idx: np.ndarray, red: np.ndarray) -> list:
    """The multisets of the picked states, walked up their parent links level by level for
    all states at once. Ranks along a multiset never decrease (enumeration in rank order), so
    equal weapons are adjacent and a run length is a shot count; weapons are returned sorted
    by index."""
    if t.size == 0:
        return []
    depth = int(lvl.max())
    ranks = np.full((t.size, depth), -1, dtype=np.int64)
    cur, at = idx.copy(), lvl.copy()
    for d in range(depth, 0, -1):
        sel = np.nonzero(at == d)[0]
        _, parent, rk = levels[d]
        ranks[sel, d - 1] = rk[cur[sel]]
        cur[sel] = parent[cur[sel]]
        at[sel] -= 1
    weap = np.where(ranks >= 0, cid[t[:, None], np.maximum(ranks, 0)], -1)
    with np.errstate(divide="ignore"):
        logq = np.where(weap >= 0, np.log1p(-p[np.maximum(weap, 0), t[:, None]]), 0.0)
    val = values[t] * np.exp(logq.sum(axis=1))
    cols = []
    for k, row in enumerate(weap.tolist()):
        ws: list[int] = []
        ks: list[int] = []
        for i in row[:lvl[k]]:
            if ws and ws[-1] == i:
                ks[-1] += 1
            else:
                ws.append(i)
                ks.append(1)
        if len(ws) > 1:  # by weapon index, as ColumnPool's keys expect
            ws, ks = (list(z) for z in zip(*sorted(zip(ws, ks, strict=True)), strict=True))
        cols.append((int(t[k]), np.array(ws, dtype=np.int64), np.array(ks, dtype=np.int64),
                     float(val[k]), float(red[k])))
    return cols


def lagrangian_bound_at(p: np.ndarray, values: np.ndarray, mu: np.ndarray,
                        pi: np.ndarray) -> tuple[float, Pricing]:
    """``L(pi) = sum_j g_j(pi) - pi.mu`` (a valid lower bound for any pi >= 0) and the pricing."""
    pi = np.maximum(pi, 0.0)
    pr = price(p, values, mu, pi)
    return float(math.fsum(pr.g) - float(pi @ mu)), pr


@dataclass(frozen=True, slots=True)
class MasterResult:
    """Outcome of column generation.

    lp: master LP value (an upper bound on the Lagrangian dual, not itself certified);
    bound: the best certified ``L(pi)`` met (before the conservative slack of ``bound``);
    pi: [m] the prices that gave ``bound``; y: [C] the last LP's column weights and
    duals: its duals ``(pi_lp [m] >= 0, sigma [n])``.
    """

    lp: float
    bound: float
    pi: np.ndarray
    y: np.ndarray
    pool: ColumnPool
    rounds: int
    seconds: float
    master: object = None  # the warm ``master.MasterLP`` (re-solve it to get fresh duals)
    duals: tuple[np.ndarray, np.ndarray] | None = None


def solve_master_lp(pool: ColumnPool, mu: np.ndarray) -> tuple[float, np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    """The master LP by HiGHS: (value, y [C], pi [m] >= 0, sigma [n])."""
    from scipy.optimize import linprog
    from scipy.sparse import csc_array

    nc = len(pool)
    tgt = np.asarray(pool.target, np.int64)
    eq = csc_array((np.ones(nc), (tgt, np.arange(nc))), shape=(pool.n, nc))
    res = linprog(np.asarray(pool.cost), A_ub=pool.matrix(), b_ub=mu.astype(float), A_eq=eq,
                  b_eq=np.ones(pool.n), bounds=(0, None), method="highs-ipm")
    if res.status != 0:
        raise RuntimeError(f"master LP failed: {res.message}")
    pi = np.maximum(-np.asarray(res.ineqlin.marginals), 0.0)
    return float(res.fun), np.asarray(res.x), pi, np.asarray(res.eqlin.marginals)


def _pool_incumbent(pool: ColumnPool, pi: np.ndarray) -> np.ndarray:
    """[n] min over the pool's columns of ``cost + pi.x``: an incumbent for pricing."""
    red = np.asarray(pool.cost) + pool.matrix().T @ pi
    u = np.full(pool.n, np.inf)
    np.minimum.at(u, np.asarray(pool.target, np.int64), red)
    return u


def column_generation(p: np.ndarray, values: np.ndarray, mu: np.ndarray,
                      x_hint: np.ndarray | None = None, time_limit: float = 10.0,
                      rel_gap: float = 1e-6, max_rounds: int = 500,
                      pool: ColumnPool | None = None, smoothing: float = 0.5,
                      keep: int = 3) -> MasterResult:
    """Generate columns until the certified bound meets the LP value (within ``rel_gap``),
    no column prices out, or the time is up.

    Dual smoothing (Wentges 1997): pricing runs at ``alpha pi_best + (1 - alpha) pi_LP``,
    where ``pi_best`` gave the best Lagrangian bound so far; when that finds no column with a
    negative reduced cost at the LP duals, it prices at the LP duals themselves. The empty
    column of every target keeps the master feasible; ``x_hint``'s columns and prices (the
    best marginal return of one more round of each weapon) start it near a good solution.
    """
    t0 = time.perf_counter()
    m, n = p.shape
    if pool is None:
        pool = ColumnPool(m, n)
        for j in range(n):
            pool.add(j, np.empty(0, np.int64), np.empty(0, np.int64), float(values[j]))
    if x_hint is not None:
        pool.add_assignment(p, values, x_hint)
        v = values * np.prod((1.0 - p) ** x_hint, axis=0)
        pi_c = (v[None, :] * p).max(axis=1)
    else:
        pi_c = (values[None, :] * p).max(axis=1) * 0.01
    pricer = Pricer(p, values, mu)
    pr = pricer(pi_c)
    best = float(math.fsum(pr.g) - float(pi_c @ mu))
    for j, weap, kk, val, _ in pr.cols:
        pool.add(j, weap, kk, val)
    from iadsim.assignment.master import MasterLP

    master = MasterLP(pool, mu)
    lp, y, pi, sigma = math.inf, np.zeros(0), np.zeros(m), np.zeros(n)
    rounds = 0
    while rounds < max_rounds:
        rounds += 1
        lp, y, pi, sigma = master.solve()
        if lp - best <= rel_gap * abs(lp) or time.perf_counter() - t0 > 0.9 * time_limit:
            break
        added = 0
        for alpha in (smoothing, 0.0) if smoothing > 0 else (0.0,):
            pi_s = alpha * pi_c + (1.0 - alpha) * pi
            pr = pricer(pi_s, keep=keep, incumbent=_pool_incumbent(pool, pi_s),
                        duals=(pi, sigma))
            val_s = float(math.fsum(pr.g) - float(pi_s @ mu))
            if val_s > best:
                best, pi_c = val_s, pi_s
            for j, weap, kk, val, _ in pr.cols:  # negative reduced cost at (pi, sigma)
                added += pool.add(j, weap, kk, val)
            if added:
                break
        if added == 0:
            break
    return MasterResult(lp=lp, bound=best, pi=pi_c, y=y, pool=pool, rounds=rounds,
                        seconds=time.perf_counter() - t0, master=master, duals=(pi, sigma))


def integer_master(pool: ColumnPool, mu: np.ndarray, time_limit: float,
                   shape: tuple[int, int], keep: np.ndarray | None = None,
                   start: np.ndarray | None = None) -> tuple[np.ndarray | None, float, bool]:
    """Price and branch: the integer master over the pool (or its columns where ``keep``,
    [C] bool, is set) by HiGHS, started from the solution ``start`` ([C] bool, one column per
    target, all kept) when given.

    Returns ``(x, dual_bound, optimal)``: the [m, n] assignment of its best integer solution
    (None if none was found in the time), HiGHS' dual bound on the restricted master, and
    whether it was solved to optimality."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csc_array

    from iadsim.assignment.master import solve_integer

    sub = np.arange(len(pool)) if keep is None else np.nonzero(keep)[0]
    got = solve_integer(pool, mu, sub, start, time_limit)
    if got is not None:  # HiGHS' own interface (takes a start solution)
        chosen, dual, optimal = got
        return (None if chosen is None else columns_to_x(pool, chosen, shape)), dual, optimal
    nc = sub.size
    tgt = np.asarray(pool.target, np.int64)[sub]
    eq = csc_array((np.ones(nc), (tgt, np.arange(nc))), shape=(pool.n, nc))
    res = milp(np.asarray(pool.cost)[sub], integrality=np.ones(nc), bounds=Bounds(0, 1),
               constraints=[LinearConstraint(eq, 1, 1),
                            LinearConstraint(pool.matrix()[:, sub], -np.inf, mu.astype(float))],
               options={"time_limit": max(time_limit, 0.05), "disp": False,
                        "mip_rel_gap": 1e-10})
    dual = getattr(res, "mip_dual_bound", None)
    dual = float(dual) if dual is not None and np.isfinite(dual) else -math.inf
    if res.x is None:
        return None, dual, False
    chosen = np.zeros(len(pool), dtype=bool)
    chosen[sub[np.rint(res.x) > 0.5]] = True
    return columns_to_x(pool, chosen, shape), dual, res.status == 0


def reduced_costs(pool: ColumnPool, pi: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """[C] reduced costs ``c + pi.a - sigma_j`` of the pool's columns at master duals."""
    tgt = np.asarray(pool.target, np.int64)
    return np.asarray(pool.cost) + pool.matrix().T @ np.maximum(pi, 0.0) - sigma[tgt]


def reduced_cost_keep(pool: ColumnPool, pi: np.ndarray, sigma: np.ndarray,
                      mu: np.ndarray, ub: float) -> np.ndarray:
    """[C] bool: the columns that can be in an integer master solution cheaper than ``ub``.

    For any ``pi >= 0`` and ``sigma`` (best: the master LP's duals), with reduced costs
    ``rc_c = c_c + pi.a_c - sigma_j``, any selection ``S`` (one column per target, capacities
    held) costs ``sum_S c = sum_S rc + sum sigma - pi.usage >= D + sum_S rc`` where ``D = sum
    sigma - pi.mu``. Each target contributes at least its least reduced cost (``< 0`` only for
    columns the LP has not seen), so a column with ``rc > ub - D - sum_j min(0, min rc_j)`` is
    in no selection cheaper than ``ub`` (reduced-cost fixing, Nemhauser & Wolsey 1988, II.6).
    A relative 1e-9 guards the float sums."""
    pi = np.maximum(pi, 0.0)
    tgt = np.asarray(pool.target, np.int64)
    rc = reduced_costs(pool, pi, sigma)
    low = np.zeros(pool.n)
    np.minimum.at(low, tgt, rc)
    d = float(sigma.sum() - pi @ mu)
    slack = ub - d - float(low.sum()) + 1e-9 * (abs(ub) + abs(d) + float(pi @ mu))
    return rc <= slack


def columns_to_x(pool: ColumnPool, chosen: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The [m, n] assignment of the chosen columns (one per target)."""
    x = np.zeros(shape, dtype=np.int64)
    rows = np.asarray(pool.rows, np.int64)
    cols = np.asarray(pool.cols, np.int64)
    cnt = np.asarray(pool.cnt, np.int64)
    tgt = np.asarray(pool.target, np.int64)
    sel = chosen[cols]
    np.add.at(x, (rows[sel], tgt[cols[sel]]), cnt[sel])
    return x
