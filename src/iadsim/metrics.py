"""Per-run metrics, computed from the event log and the run's parameters.

One flat row per run (so that a campaign is a table): totals, then breakdowns with a dot in
the column name (``leakers.<threat type>``, ``kills.<fire unit>``, ``spent.<interceptor>``,
``hit.<asset>``). Every breakdown column of the scenario is present, zero-filled, so rows of
different runs line up. Aggregation with confidence intervals is in :mod:`iadsim.stats`.

Definitions:

* ``threats``: threats launched during the run; ``leakers``: threats that reached their impact
  or weapon-release point; ``kills``: threats destroyed; ``unresolved``: launched threats still
  flying when the run ended (neither leaked nor killed).
* ``interceptors_spent``: rounds launched; ``interceptor_cost_usd`` their catalog cost.
* ``cost_exchange``: interceptor cost spent / cost of the threats destroyed (NaN if none).
* ``assets_hit``: distinct assets with at least one impact inside their radius;
  ``asset_value_lost``: the sum of their values.
* ``first_leak_s``: time of the first leak (NaN if none).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from iadsim.events import KIND_INDEX
from iadsim.params import Params


def run_metrics(params: Params, columns: dict[str, np.ndarray], counters: dict[str, int],
                unresolved: int) -> dict[str, Any]:
    """The metric row of one run. ``columns`` is ``EventLog.columns()``."""
    tp = params.threats
    assert tp is not None
    kind = columns["kind"]

    def rows(name: str) -> np.ndarray:
        return np.flatnonzero(kind == KIND_INDEX[name])

    launched = columns["threat"][rows("threat_launch")]
    leak = rows("leak")
    leaked = columns["threat"][leak]
    killed = columns["threat"][rows("kill")]
    launches = rows("launch")
    weapon = columns["weapon"][launches]
    hit_assets = np.unique(columns["asset"][rows("asset_hit")])
    types = np.array(tp.type)
    w_cost = params.weapons.cost_usd
    spent_cost = float(w_cost[weapon].sum()) if len(weapon) else 0.0
    destroyed_cost = float(tp.cost_usd[killed].sum()) if len(killed) else 0.0

    m: dict[str, Any] = {
        "threats": len(launched),
        "leakers": len(leaked),
        "kills": len(killed),
        "unresolved": unresolved,
        "interceptors_spent": len(launches),
        "interceptor_cost_usd": spent_cost,
        "threat_cost_destroyed_usd": destroyed_cost,
        "cost_exchange": spent_cost / destroyed_cost if destroyed_cost > 0 else float("nan"),
        "assets_hit": len(hit_assets),
        "asset_value_lost": float(params.assets.value[hit_assets].sum()),
        "first_leak_s": float(columns["t"][leak].min()) if len(leak) else float("nan"),
        "tracks_confirmed": len(rows("track_confirmed")),
        "plots_lost": counters.get("plots_lost", 0),
        "out_of_sequence": counters.get("out_of_sequence", 0),
        "track_overflow": counters.get("overflow", 0),
    }
    for ty in dict.fromkeys(tp.type):
        m[f"threats.{ty}"] = int((types[launched] == ty).sum())
        m[f"leakers.{ty}"] = int((types[leaked] == ty).sum())
    kill_units = columns["unit"][rows("kill")]
    for b, name in enumerate(params.units.name):
        m[f"kills.{name}"] = int((kill_units == b).sum())
    for w, name in enumerate(params.weapons.name):
        m[f"spent.{name}"] = int((weapon == w).sum())
    for a, name in enumerate(params.assets.name):
        m[f"hit.{name}"] = int(a in hit_assets)
    return m
