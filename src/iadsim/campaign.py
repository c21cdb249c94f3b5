"""Monte Carlo over runs: one simulation per run index, on one process or several.

Run ``i`` of a campaign with seed ``s`` draws every random number from
``SeedSequence(s, spawn_key=(i,))`` (see ``engine.Streams``), so its metrics are the same
whichever worker runs it, in whatever order: a campaign gives identical tables on 1 worker or
many. Two scenarios that differ only in doctrine see the same threats and the same sensor
draws run by run as far as their histories agree (common random numbers).

Runs are sent to worker processes in batches (a few per worker) to keep the scheduling cost
small. Run 0 is simulated with recording on (paths, magazines) for reports; recording draws no
random numbers, so its metrics are those of an unrecorded run 0.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from iadsim import engine
from iadsim.compile import compile_scenario
from iadsim.events import KINDS
from iadsim.metrics import run_metrics
from iadsim.params import Params
from iadsim.scenario import Scenario
from iadsim.stats import summarize


@dataclass(frozen=True)
class SimResult:
    """One run: its metric row, its event log, and (when recorded) paths and magazines."""

    metrics: dict
    events: pa.Table
    params: Params
    paths: pd.DataFrame | None = None  # t, threat, type, e, n, u
    magazine: pd.DataFrame | None = None  # t, unit_name, weapon_name, ready, reserve

    def events_df(self) -> pd.DataFrame:
        """The event log as pandas, with names next to the indices."""
        df = self.events.to_pandas()
        df["kind"] = df["kind"].astype(str)
        p = self.params
        names = {"unit_name": (df["unit"], p.units.name),
                 "weapon_name": (df["weapon"], p.weapons.name),
                 "threat_type": (df["threat"], p.threats.type if p.threats else ())}
        for col, (idx, table) in names.items():
            lut = np.array([*table, ""], dtype=object)
            df[col] = lut[np.where((idx >= 0) & (idx < len(table)), idx, len(table))]
        return df


def _result(out: engine.RunOutput) -> SimResult:
    cols = out.log.columns()
    unresolved = int((out.world.threats.launched & ~out.world.threats.done).sum())
    metrics = {"run": 0, **run_metrics(out.params, cols, dict(out.world.counters), unresolved)}
    paths = magazine = None
    if out.recording is not None:
        p, m = out.recording.arrays()
        types = np.array(out.params.threats.type, dtype=object)
        paths = pd.DataFrame({"t": p[:, 0], "threat": p[:, 1].astype(np.int64),
                              "type": types[p[:, 1].astype(np.int64)] if len(p) else [],
                              "e": p[:, 2], "n": p[:, 3], "u": p[:, 4]})
        un = np.array(out.params.units.name, dtype=object)
        wn = np.array(out.params.weapons.name, dtype=object)
        mi = m[:, 1:3].astype(np.int64)
        magazine = pd.DataFrame({"t": m[:, 0], "unit_name": un[mi[:, 0]] if len(m) else [],
                                 "weapon_name": wn[mi[:, 1]] if len(m) else [],
                                 "ready": m[:, 3].astype(np.int64),
                                 "reserve": m[:, 4].astype(np.int64)})
        has = out.params.units.has_weapon[mi[:, 0], mi[:, 1]] if len(m) else np.zeros(0, bool)
        magazine = magazine[has].reset_index(drop=True)
    return SimResult(metrics=metrics, events=out.log.to_arrow(), params=out.params, paths=paths,
                     magazine=magazine)


def simulate_params(base: Params, seed: int, run: int = 0, record: bool = False) -> SimResult:
    """One run of compiled parameters."""
    res = _result(engine.run(base, seed, run, record=record))
    res.metrics["run"] = run
    return res


def _batch(base: Params, seed: int, runs: list[int]) -> list[dict]:
    return [simulate_params(base, seed, r).metrics for r in runs]


def _first(base: Params, seed: int) -> SimResult:
    return simulate_params(base, seed, 0, record=True)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))


@dataclass(frozen=True)
class CampaignResult:
    per_run: pd.DataFrame  # one row per run, sorted by run
    summary: pd.DataFrame  # stats.summarize(per_run)
    first: SimResult  # run 0, recorded
    seed: int


def run_campaign(sc: Scenario | Params, runs: int = 200, seed: int | None = None,
                 workers: int | None = None,
                 progress: Callable[[int], None] | None = None) -> CampaignResult:
    """Simulate ``runs`` runs (``seed`` defaults to the scenario's) and summarise them.

    ``workers``: processes (default: all cores; 1 runs everything in this process).
    ``progress(n)`` is called with the number of runs just finished.
    """
    if runs < 1:
        raise ValueError(f"runs must be >= 1 (got {runs})")
    if isinstance(sc, Params):
        if seed is None:
            raise ValueError("seed is required when passing compiled Params")
        base = sc
    else:
        base = compile_scenario(sc)
        seed = sc.seed if seed is None else seed
    workers = default_workers() if workers is None else max(1, workers)
    rest = list(range(1, runs))
    rows: list[dict] = []
    if workers == 1 or len(rest) < 2:
        first = _first(base, seed)
        rows.append(first.metrics)
        if progress:
            progress(1)
        for r in rest:
            rows.append(simulate_params(base, seed, r).metrics)
            if progress:
                progress(1)
    else:
        size = max(1, min(50, len(rest) // (workers * 4)))
        chunks = [rest[i:i + size] for i in range(0, len(rest), size)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            head = pool.submit(_first, base, seed)  # run 0, recorded, in the pool too
            futures = [head] + [pool.submit(_batch, base, seed, c) for c in chunks]
            try:
                for f in as_completed(futures):
                    got = [f.result().metrics] if f is head else f.result()
                    rows += got
                    if progress:
                        progress(len(got))
                first = head.result()
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    per_run = pd.DataFrame(rows).sort_values("run", kind="stable").reset_index(drop=True)
    return CampaignResult(per_run=per_run, summary=summarize(per_run), first=first, seed=seed)


__all__ = ["CampaignResult", "KINDS", "SimResult", "run_campaign", "simulate_params"]
