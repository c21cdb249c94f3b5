"""How the cost of one run grows with raid size, phase by phase.

    PYTHONPATH=src python benchmarks/raid_scaling.py [--sizes 10 30 100 300 1000 3000]
        [--design ring|corridor|both] [--budget 120]

One Tor-M2K battery (``scenarios/tor_drone_swarm.yaml``: its site, battery, radar and doctrine)
against ``N`` Shahed-136-class drones, one run (run 0, the scenario's seed) per size. Two raid
designs:

- ``ring`` (the scaling of the code): ``ceil(N / 60)`` sub-raids of up to 60 drones, 3 s apart
  (the scenario's own sub-raid), launched at once from points evenly spaced on a 30 km ring
  around the site, aimed at points spread over 10 km around it. The number of simultaneous
  threats grows with ``N`` while the spacing inside each stream stays that of a real raid.
- ``corridor`` (a stress case): all ``N`` drones from one point 30 km south within 3 min
  (spacing ``180 / N`` s, as ``benchmarks/campaign_scaling.py``). At 1,000 drones they are
  ~10 m apart, far below any radar's resolution, so every track gates with a number of plots
  that grows with ``N`` and association grows with ``N^2`` for any tracker (the sensor model
  has no resolution cell yet, so it still reports one plot per drone).

The engine's phases are timed by wrapping the functions it calls (``move``: kinematics;
``sense``; ``share``: network transmit and deliver; ``track``: the tracker step and stale-track
deletion; ``assess``; ``assign``: the planner and what it needs; ``engage``: launches, fly-out
and kill resolution, reloads); ``other`` is the rest of the frame (event batches, counters).
CPU seconds (``time.process_time``), so other load on the machine matters less. For each
phase the exponent ``b`` of ``t = a N^b`` is fitted by least squares on log-log over the sizes
from 100 up (below that the fixed per-frame cost dominates), and the local exponent between
the two largest sizes is shown. A size is skipped when the extrapolated time exceeds
``--budget`` CPU seconds.
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml
from rich.console import Console
from rich.table import Table

from iadsim import engine, kinematics, network, sensing
from iadsim.campaign import simulate_params
from iadsim.compile import compile_scenario
from iadsim.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("move", "sense", "share", "track", "assess", "assign", "engage", "other")
# (module, attribute, phase): what each phase calls. Missing attributes are skipped, so the
# benchmark keeps working when the engine's helpers are renamed.
WRAP = [
    (kinematics, "move", "move"),
    (sensing, "sense", "sense"),
    (network, "transmit", "share"),
    (network, "deliver", "share"),
    (engine, "tracker_step", "track"),
    (engine, "delete_stale", "track"),
    (engine, "_grow", "track"),
    (engine, "reset_reused_slots", "track"),
    (engine, "assess", "assess"),
    (engine, "plan", "assign"),
    (engine, "in_flight", "assign"),
    (engine, "in_flight_by_slot", "assign"),
    (engine, "unit_status", "assign"),
    (engine, "busy_channels", "assign"),
    (engine, "_launch", "engage"),
    (engine, "resolve", "engage"),
    (engine, "reload", "engage"),
    (kinematics, "kill", "engage"),
]


def base() -> dict:
    return yaml.safe_load((ROOT / "scenarios/tor_drone_swarm.yaml").read_text(encoding="utf-8"))


def raid(n: int, design: str) -> dict:
    """The scenario document for ``n`` drones (module docstring)."""
    data = copy.deepcopy(base())
    first = data["raids"][0]
    site = next(a for a in data["assets"] if a["name"] == first["target"])
    if design == "corridor":
        r = dict(first, count=n, spacing_s=180.0 / n)
        data["raids"] = [r]
        return data
    k = math.ceil(n / 60)
    lat0, lon0 = site["lat_deg"], site["lon_deg"]
    raids = []
    for i in range(k):
        az = 2 * math.pi * i / k
        north, east = 30e3 * math.cos(az), 30e3 * math.sin(az)
        lat = lat0 + math.degrees(north / 6.371e6)
        lon = lon0 + math.degrees(east / (6.371e6 * math.cos(math.radians(lat0))))
        raids.append(dict(first, name=f"stream-{i}", count=min(60, n - 60 * i),
                          launch={"lat_deg": lat, "lon_deg": lon, "radius_km": 2},
                          launch_time_s=0.0, spacing_s=3.0, aim_spread_m=10_000))
    data["raids"] = raids
    return data


def timed_run(n: int, design: str) -> tuple[dict[str, float], dict]:
    """CPU seconds per phase of one run, and its metrics."""
    spent: dict[str, float] = defaultdict(float)
    depth = [0]
    originals = []

    def wrap(fn, phase):
        def inner(*a, **k):
            if depth[0]:
                return fn(*a, **k)
            depth[0] += 1
            t0 = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                spent[phase] += time.process_time() - t0
                depth[0] -= 1
        return inner

    sc = parse_scenario(raid(n, design), f"{design}-{n}")
    params = compile_scenario(sc)
    for mod, name, phase in WRAP:
        if hasattr(mod, name):
            originals.append((mod, name, getattr(mod, name)))
            setattr(mod, name, wrap(getattr(mod, name), phase))
    try:
        t0 = time.process_time()
        res = simulate_params(params, sc.seed, 0)
        total = time.process_time() - t0
    finally:
        for mod, name, fn in originals:
            setattr(mod, name, fn)
    spent["other"] = total - sum(spent.values())
    spent["total"] = total
    return dict(spent), res.metrics


def fit(sizes: list[int], times: list[float]) -> float:
    x = [math.log(s) for s, t in zip(sizes, times, strict=True) if s >= 100 and t > 0]
    y = [math.log(t) for s, t in zip(sizes, times, strict=True) if s >= 100 and t > 0]
    return float(np.polyfit(x, y, 1)[0]) if len(x) >= 2 else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 30, 100, 300, 1000, 3000])
    ap.add_argument("--design", choices=("ring", "corridor", "both"), default="ring")
    ap.add_argument("--budget", type=float, default=120.0, help="max CPU s for one size")
    args = ap.parse_args()
    console = Console(width=170)
    for design in ("ring", "corridor") if args.design == "both" else (args.design,):
        rows, sizes = [], []
        for n in sorted(args.sizes):
            if len(rows) >= 2:
                (n1, a), (n2, b) = (sizes[-2], rows[-2]["total"]), (sizes[-1], rows[-1]["total"])
                slope = max(math.log(b / a) / math.log(n2 / n1), 1.0)
                guess = b * (n / n2) ** slope
                if guess > args.budget:
                    console.print(f"[yellow]{design}: skipping N={n} (~{guess:.0f} CPU s)")
                    continue
            spent, m = timed_run(n, design)
            rows.append(spent)
            sizes.append(n)
            console.print(f"{design} N={n}: {spent['total']:.2f} CPU s, "
                          f"leakers {m.get('leakers')}, kills {m.get('kills')}, "
                          f"tracks confirmed {m.get('tracks_confirmed')}")
        table = Table("phase", *(f"N={n}" for n in sizes), "exponent (N>=100)",
                      "local (last two)",
                      title=f"{design}: CPU s of one run by phase (exponent b of t ~ N^b)")
        for ph in (*PHASES, "total"):
            ts = [r.get(ph, 0.0) for r in rows]
            local = (math.log(ts[-1] / ts[-2]) / math.log(sizes[-1] / sizes[-2])
                     if len(ts) >= 2 and ts[-1] > 0 and ts[-2] > 0 else float("nan"))
            table.add_row(ph, *(f"{t:.3f}" for t in ts), f"{fit(sizes, ts):.2f}", f"{local:.2f}")
        console.print(table)


if __name__ == "__main__":
    main()
