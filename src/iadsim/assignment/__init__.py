"""Weapon-target assignment.

* :mod:`iadsim.assignment.dynamic`: the simulator's engagement planner. Every frame it builds
  the assignment problem of the world as it stands (feasible unit x interceptor x track salvos,
  marginal returns, fire channels, stock, doctrine) and solves it exactly (or greedily).
* :mod:`iadsim.assignment.wta` and the static solvers beside it: the static WTA problem of the
  literature (instances, objective, solvers).
"""

from iadsim.assignment.dynamic import SOLVERS, Frame, Plan, build_frame, plan

__all__ = ["SOLVERS", "Frame", "Plan", "build_frame", "plan"]
