"""The restricted master LP of column generation, kept alive between rounds.

Column generation adds a few hundred columns per round to an LP whose optimal basis stays
primal feasible (new columns start at zero), so the primal simplex restarted from the previous
basis needs a handful of pivots where a fresh solve needs thousands: on ``wta_300x600x3`` a
warm-started round costs ~0.01 s against ~0.15 s for a cold interior-point solve
(``scipy.optimize.linprog``). SciPy ships HiGHS' full C++ interface as the private
``scipy.optimize._highspy._core._Highs``; where that import fails (a SciPy that moved it),
``MasterLP`` falls back to a cold ``linprog`` solve each round, with the same results up to
the choice among optimal duals.

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
        self.nnz = 0  # pool COO entries already in the LP
        self.h = None
        if _hc is not None:
            h = _hc._Highs()
            h.setOptionValue("output_flag", False)
            h.setOptionValue("threads", 1)
            h.setOptionValue("presolve", "off")  # warm starts skip presolve anyway
            inf = h.getInfinity()
            n, m = pool.n, pool.m
            lo = np.concatenate([np.ones(n), np.full(m, -inf)])
            up = np.concatenate([np.ones(n), self.mu])
            empty_i = np.zeros(0, np.int32)
            h.addRows(n + m, lo, up, 0, empty_i, empty_i, np.zeros(0))
            self.h, self.inf = h, inf

    def _sync(self) -> None:
        pool, c0, c1 = self.pool, self.done, len(self.pool)
        if c1 == c0:
            return
        e1 = len(pool.rows)
        cols = np.asarray(pool.cols[self.nnz:e1], np.int64) - c0
        rows = np.asarray(pool.rows[self.nnz:e1], np.int64) + pool.n
        cnt = np.asarray(pool.cnt[self.nnz:e1], float)
        k = c1 - c0
        tgt = np.asarray(pool.target[c0:c1], np.int64)
        # each column: its target row (coefficient 1), then its weapon rows
        all_c = np.concatenate([np.arange(k), cols])
        all_r = np.concatenate([tgt, rows])
        all_v = np.concatenate([np.ones(k), cnt])
        order = np.lexsort((all_r, all_c))
        starts = np.searchsorted(all_c[order], np.arange(k)).astype(np.int32)
        self.h.addCols(k, np.asarray(pool.cost[c0:c1], float), np.zeros(k),
                       np.full(k, self.inf), order.size, starts,
                       all_r[order].astype(np.int32), all_v[order])
        self.done, self.nnz = c1, e1

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

    def dive(self, deadline: float, share: float = 0.25) -> np.ndarray | None:
        """Diving heuristic on the restricted master: fix the heaviest fractional columns
        (``share`` of the fractional targets per step, targets distinct, their shots within
        the capacity left), re-optimise from the current basis, repeat until the LP solution
        is integral. Returns the chosen-column mask ([C] bool; targets without a column may
        remain when no column of theirs fits the capacity left) or None (no warm-startable
        HiGHS, the time is up, or a fixing made the LP infeasible). The bounds are restored
        afterwards, so column generation can go on."""
        import time

        if self.h is None:
            return None
        self._sync()
        h, pool = self.h, self.pool
        tgt = np.asarray(pool.target, np.int64)
        a = pool.matrix().tocsc()
        fixed: list[int] = []
        cap = self.mu.copy()
        done_t = np.zeros(pool.n, dtype=bool)
        result = None
        try:
            while time.perf_counter() < deadline:
                h.run()
                if h.modelStatusToString(h.getModelStatus()) != "Optimal":
                    break
                y = np.asarray(h.getSolution().col_value)
                frac = (y > 1e-6) & (y < 1.0 - 1e-6)
                if not frac.any():
                    result = y > 0.5
                    break
                ft = np.unique(tgt[frac])
                k = max(1, int(share * ft.size))
                # integral columns of unfixed targets are fixed along with the top fractional
                cand = np.nonzero((y > 1e-6) & ~done_t[tgt])[0]
                cand = cand[np.argsort(-y[cand], kind="stable")]
                new: list[int] = []
                nfrac = 0
                for c in cand.tolist():
                    t = int(tgt[c])
                    if done_t[t]:
                        continue
                    use = a[:, [c]].toarray().ravel()
                    if (use > cap + 1e-9).any():
                        continue
                    if y[c] < 1.0 - 1e-6:
                        if nfrac >= k:
                            continue
                        nfrac += 1
                    cap -= use
                    done_t[t] = True
                    new.append(c)
                if not new:  # nothing fits the capacity left: the rest is the caller's
                    result = np.zeros(len(pool), dtype=bool)
                    result[fixed] = True
                    break
                idx = np.asarray(new, np.int32)
                h.changeColsBounds(idx.size, idx, np.ones(idx.size), np.ones(idx.size))
                fixed.extend(new)
        finally:
            if fixed:
                idx = np.asarray(fixed, np.int32)
                h.changeColsBounds(idx.size, idx, np.zeros(idx.size),
                                   np.full(idx.size, self.inf))
        return result
