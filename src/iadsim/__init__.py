"""iadsim: integrated air-and-missile defense simulator and analysis toolkit.

Public, nominal, cited parameters only; an analysis and teaching tool, not a fire-control
system. The small public API:

    sc = iadsim.load_scenario("scenarios/layered_defense.yaml")
    res = iadsim.simulate(sc, seed=7)              # one run: res.metrics, res.events_df()
    camp = iadsim.run_campaign(sc, runs=200)        # camp.per_run, camp.summary
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from iadsim.campaign import CampaignResult, SimResult, run_campaign
from iadsim.compile import compile_scenario
from iadsim.scenario import Scenario, ScenarioError, load_scenario, parse_scenario

try:
    __version__ = version("iadsim")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+src"


def simulate(sc: Scenario, seed: int | None = None, run: int = 0, record: bool = True
             ) -> SimResult:
    """Simulate one run of a scenario (``seed`` defaults to the scenario's seed)."""
    from iadsim.campaign import simulate_params

    return simulate_params(compile_scenario(sc), sc.seed if seed is None else seed, run, record)


__all__ = ["CampaignResult", "Scenario", "ScenarioError", "SimResult", "__version__",
           "compile_scenario", "load_scenario", "parse_scenario", "run_campaign", "simulate"]
