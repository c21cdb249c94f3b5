"""The restricted master LP of column generation, kept alive between rounds, and the integer
master.

Column generation adds a few hundred columns per round to an LP whose optimal basis stays
primal feasible (new columns start at zero), so HiGHS re-optimises from the previous basis: on
``wta_300x600x3`` the late rounds cost a few milliseconds and the first ones 0.05-0.12 s,
against 0.2-0.4 s for a cold solve of the same LP. ``solve_integer`` solves the integer master
over a subset of the columns from a feasible start solution (HiGHS' ``setSolution``), so a
time limit never leaves it worse than the incumbent. SciPy ships HiGHS' full C++ interface as
the private ``scipy.optimize._highspy._core._Highs``; where that import fails (a SciPy that
moved it), ``MasterLP`` falls back to a cold ``linprog`` solve each round (same results up to
the choice among optimal duals) and the integer master to ``scipy.optimize.milp`` without the
start.

Rows: ``0..n-1`` the target equalities (``sum_S y_jS = 1``), ``n..n+m-1`` the capacities
(``sum x_iS y_jS <= mu_i``). HiGHS reports the duals of a minimisation with ``<=`` rows as
``<= 0``; the capacity prices are their negatives.
"""

from __future__ import annotations

import numpy as np

from iadsim.assignment.colgen import ColumnPool, solve_master_lp

try:  # the private module is stable since SciPy 1.15 but not a public API
    from scipy.optimize._highspy import _core as _hc
except ImportError:  # pragma: no cover - depends on the SciPy build
    _hc = None


class MasterLP:
    """The master LP over a growing ``ColumnPool``; ``solve`` adds the pool's new columns and
    re-optimises from the last basis. Returns ``(value, y [C], pi [m] >= 0, sigma [n])``."""

    def __init__(self, pool: ColumnPool, mu: np.ndarray) -> None:
        self.pool = pool
        self.mu = np.asarray(mu, float)
        self.done = 0  # pool columns already in the LP
        self.h = None
        if _hc is not None:
            h = _new_highs(pool.n, pool.m, self.mu)
            h.setOptionValue("presolve", "off")  # warm starts skip presolve anyway
            self.h, self.inf = h, h.getInfinity()

    def _sync(self) -> None:
        c0, c1 = self.done, len(self.pool)
        if c1 == c0:
            return
        cost, starts, index, value = _columns(self.pool, np.arange(c0, c1))
        self.h.addCols(c1 - c0, cost, np.zeros(c1 - c0), np.full(c1 - c0, self.inf),
                       index.size, starts, index, value)
        self.done = c1

    def solve(self) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        if self.h is None:
            return solve_master_lp(self.pool, self.mu)
        self._sync()
        self.h.run()
        if self.h.modelStatusToString(self.h.getModelStatus()) != "Optimal":
            self.h = None  # give up on the warm start rather than trust a stalled basis
            return solve_master_lp(self.pool, self.mu)
        sol = self.h.getSolution()
        dual = np.asarray(sol.row_dual)
        n = self.pool.n
        value = float(self.h.getInfo().objective_function_value)
        return (value, np.asarray(sol.col_value), np.maximum(-dual[n:], 0.0),
                np.asarray(dual[:n]))


def _new_highs(n: int, m: int, mu: np.ndarray):
    """A single-threaded, silent HiGHS with the master's rows: ``0..n-1`` the target
    equalities, ``n..n+m-1`` the capacities."""
    h = _hc._Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    inf = h.getInfinity()
    lo = np.concatenate([np.ones(n), np.full(m, -inf)])
    up = np.concatenate([np.ones(n), np.asarray(mu, float)])
    empty_i = np.zeros(0, np.int32)
    h.addRows(n + m, lo, up, 0, empty_i, empty_i, np.zeros(0))
    return h


def _columns(pool: ColumnPool, sub: np.ndarray) -> tuple[np.ndarray, ...]:
    """The pool columns ``sub`` in the master's rows, compressed by column: (costs, starts,
    row indices, values) as HiGHS' ``addCols`` takes them."""
    from scipy.sparse import csc_array, vstack

    k = sub.size
    tgt = np.asarray(pool.target, np.int64)[sub]
    a = vstack([csc_array((np.ones(k), (tgt, np.arange(k))), shape=(pool.n, k)),
                pool.matrix()[:, sub]], format="csc")
    a.sort_indices()
    return (np.asarray(pool.cost, float)[sub], a.indptr[:-1].astype(np.int32),
            a.indices.astype(np.int32), a.data.astype(float))


def solve_integer(pool: ColumnPool, mu: np.ndarray, sub: np.ndarray,
                  start: np.ndarray | None, time_limit: float
                  ) -> tuple[np.ndarray | None, float, bool] | None:
    """The integer master over the pool columns ``sub`` by HiGHS, given the feasible
    ``start`` ([C] bool over the pool, within ``sub``) as its first incumbent, so it never
    returns worse. Returns ``(chosen [C] bool or None, dual bound, optimal)``, or None where
    the private interface is missing (the caller then uses ``scipy.optimize.milp``)."""
    if _hc is None:  # pragma: no cover - depends on the SciPy build
        return None
    import math

    h = _new_highs(pool.n, pool.m, mu)
    h.setOptionValue("time_limit", float(max(time_limit, 0.05)))
    h.setOptionValue("mip_rel_gap", 1e-10)
    k = sub.size
    cost, starts, index, value = _columns(pool, sub)
    h.addCols(k, cost, np.zeros(k), np.ones(k), index.size, starts, index, value)
    h.changeColsIntegrality(k, np.arange(k, dtype=np.int32),
                            np.full(k, _hc.HighsVarType.kInteger))
    if start is not None:
        h.setSolution(k, np.arange(k, dtype=np.int32), start[sub].astype(float))
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    dual = float(info.mip_dual_bound)
    dual = dual if math.isfinite(dual) else -math.inf
    if info.primal_solution_status != 2:  # no feasible solution
        return None, dual, False
    chosen = np.zeros(len(pool), dtype=bool)
    chosen[sub[np.asarray(h.getSolution().col_value) > 0.5]] = True
    return chosen, dual, status == "Optimal"
