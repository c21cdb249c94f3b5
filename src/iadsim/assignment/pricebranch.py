"""Price and branch for the static WTA problem, with reduced-cost column enumeration.

1. A start: greedy maximum marginal return and a relocation descent (``search.py``).
2. Column generation (``colgen.column_generation``) until the certified Lagrangian bound
   ``L(pi)`` meets the master LP value, or a share of the time is spent.
3. The master LP solution rounded to an assignment (``rounding.round_master``); then the
   integer master (HiGHS, started from the incumbent) over the columns that survive
   reduced-cost fixing at the last LP duals (``colgen.reduced_cost_keep``): first only those
   whose reduced cost is within each fraction ``restrict`` of the LP value (a ladder of
   restricted masters, a heuristic), then all of them; each answer polished by the local
   search and handed to the next as its start.
4. Reduced-cost enumeration: with ``UB`` the best objective found and ``L(pi)`` the bound at
   prices ``pi``, every feasible assignment ``x`` satisfies

       sum_j [c_j(x_.j) + pi.x_.j - g_j(pi)] <= F(x) - L(pi)

   (the capacities hold and ``pi >= 0``), and each bracket is ``>= 0``. So every target's
   column in any assignment better than ``UB`` has reduced cost at most ``UB - L(pi)``.
   ``colgen.price(..., slack=UB - L)`` lists all of them; the integer master over that pool
   then finds the optimum, and when the enumeration was complete and HiGHS proves its
   optimum, ``min(UB, dual bound)`` is a lower bound (any better assignment lies in the
   pool); it is reported less 1e-6 of itself for HiGHS' tolerances. This is the classic
   reduced-cost variable fixing argument (e.g. Nemhauser & Wolsey 1988, II.6) applied to
   set-partitioning columns.

The result does not depend on the clock except through where it stops: for a given seed and
enough time (``max_rounds`` reached, HiGHS finishing), it is deterministic.
"""

from __future__ import annotations

import math
import time

import numpy as np

from iadsim.assignment.bound import _conservative
from iadsim.assignment.colgen import (
    column_generation,
    integer_master,
    price,
    reduced_cost_keep,
    reduced_costs,
)
from iadsim.assignment.rounding import round_master
from iadsim.assignment.search import greedy, local_search
from iadsim.assignment.wta import Solution, WTAInstance, objective


def certified(inst: WTAInstance, lagrangian: float, pi: np.ndarray) -> float:
    """A Lagrangian value made conservative: float error on the sum of the ``g_j`` (each
    ~1e-16 relative, bounded by a relative 1e-9 of ``|L| + pi.mu``) and ``bound``'s slack."""
    if not math.isfinite(lagrangian):
        return 0.0
    v = lagrangian - 1e-9 * (abs(lagrangian) + float(np.maximum(pi, 0.0) @ inst.mu))
    return max(_conservative(inst, v), 0.0)


def price_and_branch(inst: WTAInstance, time_limit: float = 10.0, seed: int = 0,
                     x0: np.ndarray | None = None, cg_share: float = 0.75,
                     max_rounds: int = 500, enum_budget: int = 200_000,
                     max_enum_gap: float = 0.01, round_share: float = 0.08,
                     restrict: tuple[float, ...] = (2e-5, 1e-4, 4e-4)) -> Solution:
    """Solve by price and branch (module docstring); anytime, Ctrl-C returns the best so far.

    ``enum_budget`` caps the columns added by reduced-cost enumeration (beyond it the slack is
    halved, so the pool stays tractable; the result is then a heuristic, not a proof), and
    enumeration only starts once ``UB - L`` is below ``max_enum_gap`` of ``UB``. The time
    shares (``cg_share`` of the limit for column generation, ``round_share`` for the rounding)
    and the ladder ``restrict`` (reduced-cost cut-offs of the restricted integer masters, as
    fractions of the master LP value; empty for the full master only) were tuned so that the
    largest benchmark instances are within 0.1% of the best known at 1 s (docs/wta.md).
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    history: list[tuple[float, float]] = []
    best_x = greedy(inst) if x0 is None else np.array(x0, dtype=np.int64)
    best = objective(inst, best_x)
    lb = -math.inf
    rounds = 0

    def offer(x: np.ndarray) -> None:
        nonlocal best, best_x
        inst.check(x)
        f = objective(inst, x)
        if f < best * (1.0 - 1e-15):
            best, best_x = f, x.copy()
            history.append((time.perf_counter() - t0, best))

    def left() -> float:
        return time_limit - (time.perf_counter() - t0)

    def polish(x: np.ndarray, swaps: bool = True) -> None:
        local_search(inst, x)
        offer(x)
        if swaps and left() > 0.2 * time_limit:
            local_search(inst, x, None, rng, patience=2, swaps=True)
            offer(x)

    try:
        history.append((time.perf_counter() - t0, best))
        x = best_x.copy()
        local_search(inst, x)  # relocations only: the fallback if CG has no time
        offer(x)
        mr = column_generation(inst.p, inst.values, inst.mu, best_x,
                               time_limit=max(cg_share * left(), 0.0), max_rounds=max_rounds)
        rounds = mr.rounds
        lb = max(lb, certified(inst, mr.bound, mr.pi))
        pool = mr.pool
        if mr.y.size:
            offer(round_master(inst, pool, mr.y, rng,
                               deadline=time.perf_counter() + round_share * time_limit))
        # the integer master over the columns that survive reduced-cost fixing at the last
        # LP duals, started from the best assignment so far: first over the columns whose
        # reduced cost is within each of `restrict` (relative to the LP value), then over all
        # of them. A restricted master is a heuristic; the small ones take milliseconds and
        # each answer is the next one's start and cutoff, which keeps the larger ones short
        if mr.duals is not None:
            rc = reduced_costs(pool, *mr.duals)
            tried = -1
            for frac in (*restrict, math.inf):
                if not left() > 0.1 * time_limit:
                    break
                start = pool.add_assignment(inst.p, inst.values, best_x)
                keep = reduced_cost_keep(pool, *mr.duals, inst.mu, best)
                if math.isfinite(frac):
                    keep[:rc.size] &= rc <= frac * abs(mr.lp)
                keep |= start
                if int(keep.sum()) == tried:
                    continue
                tried = int(keep.sum())
                x, _, _ = integer_master(pool, inst.mu, left() - 0.05 * time_limit,
                                         inst.p.shape, keep, start)
                if x is not None:
                    offer(x)
                    polish(x, swaps=not math.isfinite(frac))  # the full master is last
        # reduced-cost enumeration at the best Lagrangian prices
        slack = best - mr.bound
        small = inst.m * inst.n <= 400  # always enumerate: tiny pools, exact answers
        # an enumeration pass (pricing with slack, then HiGHS) is not interruptible: start one
        # only with a quarter of the time (at most 1 s) left
        while (left() > min(0.25 * time_limit, 1.0) and 0 < slack
               and (small or slack <= max_enum_gap * best)):
            before = len(pool)
            pr = price(inst.p, inst.values, inst.mu, mr.pi, keep=0, slack=slack,
                       target_budget=20_000)
            if len(pr.cols) > enum_budget:
                slack *= 0.5
                continue
            for j, weap, kk, val, _ in pr.cols:
                pool.add(j, weap, kk, val)
            complete = bool(pr.exact.all()) and slack >= best - mr.bound
            x, dual, optimal = integer_master(pool, inst.mu, left(), inst.p.shape)
            if x is not None:
                offer(x)
                polish(x)
            if complete and optimal:
                # HiGHS solves with feasibility tolerances (1e-6 on the integer master's
                # rows): its dual bound is trusted only up to 1e-6 relative, plus 1e-9 of the
                # total target value
                tol = 1e-6 * abs(dual) + 1e-9 * float(inst.values.sum())
                lb = max(lb, certified(inst, min(best, dual) - tol, np.zeros(inst.m)))
            if len(pool) == before or complete:
                break
            slack = best - mr.bound
    except KeyboardInterrupt:
        pass
    return Solution(x=best_x, objective=best, solver="cg", lower_bound=min(lb, best),
                    iterations=rounds, seconds=time.perf_counter() - t0,
                    history=tuple(history))
