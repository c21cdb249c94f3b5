"""Registry of static WTA solvers: one signature, capability flags (as poliastro's propagators).

Every solver is ``solve(instance, time_limit, seed) -> Solution``. Flags:

* ``exact``: proves optimality on small instances (its lower bound meets its objective);
* ``bound``: returns a certified lower bound with its solution;
* ``anytime``: honours ``time_limit`` and returns the best solution so far on Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from iadsim.assignment.bound import milp
from iadsim.assignment.pricebranch import price_and_branch
from iadsim.assignment.search import greedy, ils
from iadsim.assignment.wta import Solution, WTAInstance, objective


@dataclass(frozen=True, slots=True)
class SolverSpec:
    """A registered solver and what it guarantees."""

    name: str
    solve: Callable[[WTAInstance, float, int], Solution]
    exact: bool
    bound: bool
    anytime: bool
    summary: str


def _greedy(inst: WTAInstance, time_limit: float, seed: int) -> Solution:
    x = greedy(inst)
    return Solution(x=x, objective=objective(inst, x), solver="greedy")


def _ils(inst: WTAInstance, time_limit: float, seed: int) -> Solution:
    return ils(inst, time_limit=time_limit, seed=seed)


def _cg(inst: WTAInstance, time_limit: float, seed: int) -> Solution:
    return price_and_branch(inst, time_limit=time_limit, seed=seed)


def _milp(inst: WTAInstance, time_limit: float, seed: int) -> Solution:
    return milp(inst, time_limit=time_limit)


SOLVERS: dict[str, SolverSpec] = {s.name: s for s in (
    SolverSpec("greedy", _greedy, exact=False, bound=False, anytime=False,
               summary="maximum marginal return; optimal for identical weapons"),
    SolverSpec("ils", _ils, exact=False, bound=False, anytime=True,
               summary="iterated local search: relocations + assignment (VLSN) moves"),
    SolverSpec("cg", _cg, exact=True, bound=True, anytime=True,
               summary="column generation (exact pricing), Lagrangian bound, price and branch "
                       "with reduced-cost enumeration"),
    SolverSpec("milp", _milp, exact=True, bound=True, anytime=True,
               summary="tangent-line MILP (HiGHS); exact on small instances"),
)}


def solve(inst: WTAInstance, solver: str = "cg", time_limit: float = 1.0,
          seed: int = 0) -> Solution:
    """Run the named solver; KeyError names the valid solvers."""
    if solver not in SOLVERS:
        raise KeyError(f"unknown solver {solver!r}; valid: {', '.join(SOLVERS)}")
    return SOLVERS[solver].solve(inst, time_limit, seed)
