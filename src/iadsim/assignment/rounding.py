"""A primal assignment from a fractional master LP solution, cheap enough to run after every
round of column generation.

The set-partitioning master's optimum is nearly integral on the benchmark instances (most
targets put weight 1 on one column), so rounding it is a strong start: each target takes its
heaviest column; a weapon then over its capacity gives back its rounds where removing one
costs least (``V_j (1/q_ij - 1)``, exact for one round; one round per over-used weapon per
pass, the values updated between passes); the freed capacity is refilled by maximum marginal
return and the result polished by the relocation descent of ``search.local_search``. This is
the "dive to the nearest integer point, then repair" heuristic of the price-and-branch
literature (e.g. Joncour et al. 2010's diving, without the backtracking).
"""

from __future__ import annotations

import numpy as np

from iadsim.assignment.colgen import ColumnPool, columns_to_x
from iadsim.assignment.search import _values, greedy_fill, local_search
from iadsim.assignment.wta import WTAInstance


def round_master(inst: WTAInstance, pool: ColumnPool, y: np.ndarray,
                 rng: np.random.Generator | None = None,
                 deadline: float | None = None) -> np.ndarray:
    """[m, n] feasible assignment from the master LP weights ``y`` ([C] over ``pool``); the
    descent stops at ``deadline`` (``time.perf_counter()``) if one is given."""
    tgt = np.asarray(pool.target, np.int64)
    c = min(y.size, tgt.size)
    # heaviest column per target; ties to the cheaper column
    order = np.lexsort((np.asarray(pool.cost[:c]), -y[:c], tgt[:c]))
    first = np.ones(c, dtype=bool)
    first[1:] = tgt[order[1:]] != tgt[order[:-1]]
    chosen = np.zeros(len(pool), dtype=bool)
    chosen[order[first]] = True
    x = columns_to_x(pool, chosen, inst.p.shape)
    v = _values(inst, x)
    over = x.sum(axis=1) - inst.mu
    while (over > 0).any():
        rows = np.nonzero(over > 0)[0]
        loss = np.where(x[rows] > 0, v[None, :] * (1.0 / inst.q[rows] - 1.0), np.inf)
        j = np.argmin(loss, axis=1)
        for i, jj in zip(rows.tolist(), j.tolist(), strict=True):
            x[i, jj] -= 1
            v[jj] /= inst.q[i, jj]
            over[i] -= 1
    greedy_fill(inst, x, inst.mu - x.sum(axis=1), v)
    local_search(inst, x, v, rng, patience=1, deadline=deadline)
    return x

