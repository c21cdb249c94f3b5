"""Campaign report tables: one summary row per design point, binned curves for scattered
designs, the uncertainty ranking and the saturation estimate of count-like parameters.

**Scattered designs** (``--design lhs``): the design points do not form a grid, so a curve
through them would zig-zag with the other parameters. Each figure then shows every design point
as a grey dot with its own interval, and a *binned* curve: the parameter's range is cut into
``min(8, max(2, N / 4))`` equal-width bins (``N`` design points; one bin per level for a list,
per integer when there are fewer), all runs of the points in a bin are pooled into one
summary (Wilson for the leak rate, Student t for means, bootstrap for the cost exchange), and
the bin is drawn at the mean parameter value of its points. A bin therefore averages over the
other parameters as the hypercube samples them (a main effect, not a conditional curve). The
saturation estimate of a count-like parameter uses the binned mean-leakers curve.

Saturation estimate (threshold ``T`` mean leakers per run, default 1.0). Let the swept values
be ``x_1 < ... < x_n`` with mean leakers ``m_i`` and Student-t 95% interval ``[l_i, u_i]`` at
each. Each of the three sequences (``m``, ``l``, ``u``) is joined into a piecewise-linear curve
in ``x``; the *first crossing* of a curve ``y`` is, for the first ``k`` with ``y_k > T``,
``x_1`` when ``k = 1`` (the threshold is already exceeded at the smallest value swept, shown
as ``≤ x_1``) and otherwise the linear interpolation between the neighbours
``x_{k-1} + (T - y_{k-1}) (x_k - x_{k-1}) / (y_k - y_{k-1})``; with no such ``k`` the curve
never exceeds ``T`` (shown as ``> x_n``). The report gives

* **saturation at**: the smallest swept value ``x_k`` with ``m_k > T`` (the headline figure),
* **interpolated**: the first crossing of the mean curve,
* **95% interval**: from the first crossing of the upper-bound curve ``u`` (the smallest size
  at which exceeding ``T`` is still plausible) to the first crossing of the lower-bound curve
  ``l`` (the size from which it is established). As ``l_i <= m_i <= u_i`` at every point, the
  three crossings are ordered. The bounds are pointwise 95% intervals joined, not a
  simultaneous band, and linear interpolation between swept values is an assumption: a finer
  sweep near the crossing narrows both.

When ``T`` is never exceeded the report says "not reached" (and gives the largest size swept).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from iadsim.stats import summarize
from iadsim.store import Store


@dataclass
class Saturation:
    """Saturation estimate of one count-like parameter at fixed values of the others."""

    path: str
    others: dict[str, Any]
    threshold: float
    at: float | None  # smallest swept value with mean leakers > threshold; None: not reached
    interpolated: float | None
    lo: float | None  # first crossing of the upper t bound
    hi: float | None  # first crossing of the lower t bound; None: not reached in the sweep
    first: float  # smallest swept value
    last: float  # largest swept value


_ROW_METRICS = {"leak_rate": "leak_rate", "leakers": "leakers",
                "interceptors_spent": "spent", "cost_exchange": "cx"}


def _metrics(df: pd.DataFrame) -> dict[str, float]:
    """``<m>``, ``<m>_lo``, ``<m>_hi`` of the runs ``df`` (NaN without runs)."""
    row: dict[str, float] = {}
    if len(df):
        s = summarize(df.drop(columns=["point"], errors="ignore")).set_index("metric")
    for metric, key in _ROW_METRICS.items():
        for suffix, col in (("", "estimate"), ("_lo", "lo"), ("_hi", "hi")):
            row[key + suffix] = float(s.loc[metric, col]) if len(df) else math.nan
    return row


def point_table(store: Store, per_run: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per design point: ``point``, the swept values (one column per path), ``runs``,
    and ``<m>``, ``<m>_lo``, ``<m>_hi`` for ``m`` in ``leak_rate`` (Wilson), ``leakers`` and
    ``spent`` (interceptors spent, Student t), ``cx`` (cost exchange, ratio of sums with a
    bootstrap interval). A point without runs has NaN metrics. ``per_run``: the store's
    :meth:`~iadsim.store.Store.per_run`, when already read."""
    per_run = store.per_run() if per_run is None else per_run
    groups = dict(tuple(per_run.groupby("point"))) if len(per_run) else {}
    rows = []
    for i, values in enumerate(store.points):
        df = groups.get(i, per_run.iloc[:0])
        rows.append({"point": i, **values, "runs": len(df), **_metrics(df)})
    return pd.DataFrame(rows)


def _bins(sweep: dict, samples: int) -> tuple[np.ndarray, bool] | None:
    """Bin edges over an interval sweep (None for levels); ``True`` when one bin per
    integer."""
    if "values" in sweep:
        return None
    lo, hi = float(sweep["low"]), float(sweep["high"])
    k = min(8, max(2, samples // 4))
    if sweep.get("integer") and hi - lo + 1 <= k:
        return np.arange(lo - 0.5, hi + 1.0), True
    return np.linspace(lo, hi, k + 1), False


def binned_table(table: pd.DataFrame, per_run: pd.DataFrame, sweep: dict,
                 samples: int) -> pd.DataFrame:
    """Pooled summaries of the runs of a scattered design, binned along one swept parameter
    (see the module doc): columns ``bin``, ``<path>`` (mean value of the points in the bin),
    ``points``, ``runs`` and the metrics of :func:`point_table`."""
    path = sweep["path"]
    bins = _bins(sweep, samples)
    if bins is None:
        order = {json.dumps(v): i for i, v in enumerate(sweep["values"])}
        which = np.array([order[json.dumps(v)] for v in table[path]])
    else:
        edges = bins[0]
        which = np.clip(np.searchsorted(edges, table[path].to_numpy(dtype=float),
                                        side="right") - 1, 0, len(edges) - 2)
    rows = []
    for b in sorted(set(which.tolist())):
        pts = table[which == b]
        df = per_run[per_run["point"].isin(pts["point"])] if len(per_run) else per_run
        x = (sweep["values"][b] if bins is None
             else float(np.average(pts[path].to_numpy(dtype=float),
                                   weights=np.maximum(pts["runs"].to_numpy(dtype=float), 1e-9))))
        rows.append({"bin": b, path: x, "points": len(pts), "runs": len(df), **_metrics(df)})
    return pd.DataFrame(rows)


def uncertain_table(per_run: pd.DataFrame, design: dict) -> pd.DataFrame | None:
    """One row per sampled catalog parameter (``--sample-uncertain``): ``name``, ``value``,
    ``low``, ``high``, ``unit``, ``rho`` (Spearman, drawn value vs the run's leak fraction, over
    all runs), ``p`` (its two-sided p-value), ``below``/``above`` (pooled leak rate of the runs
    below / at or above the median draw) with ``_lo``/``_hi`` Wilson 95% bounds; sorted by
    ``|rho|``, largest first. None when nothing was sampled."""
    from scipy.stats import spearmanr

    from iadsim.stats import wilson_interval
    from iadsim.uncertain import PREFIX

    spec = design.get("uncertain")
    if not spec:
        return None
    rows = []
    threats = per_run["threats"].astype(float).to_numpy() if len(per_run) else np.zeros(0)
    leakers = per_run["leakers"].astype(float).to_numpy() if len(per_run) else np.zeros(0)
    ok = threats > 0
    frac = np.where(ok, leakers / np.where(ok, threats, 1.0), np.nan)
    for u in spec["params"]:
        col = PREFIX + u["name"]
        row: dict[str, Any] = {k: u[k] for k in ("name", "value", "low", "high", "unit")}
        row.update(rho=math.nan, p=math.nan)
        x = per_run[col].to_numpy(dtype=float) if col in per_run else np.full(len(frac), np.nan)
        use = ok & np.isfinite(x)
        if use.sum() > 2 and np.ptp(x[use]) > 0 and np.ptp(frac[use]) > 0:
            res = spearmanr(x[use], frac[use])
            row.update(rho=float(res.statistic), p=float(res.pvalue))
        med = np.median(x[use]) if use.any() else math.nan
        for side, sel in (("below", use & (x < med)), ("above", use & (x >= med))):
            k, n = leakers[sel].sum(), threats[sel].sum()
            lo, hi = wilson_interval(k, n) if n > 0 else (math.nan, math.nan)
            row.update({side: k / n if n > 0 else math.nan, f"{side}_lo": lo, f"{side}_hi": hi})
        rows.append(row)
    out = pd.DataFrame(rows)
    return out.iloc[np.argsort(-np.nan_to_num(np.abs(out["rho"].to_numpy()), nan=-1.0),
                               kind="stable")].reset_index(drop=True)


def is_count(path: str) -> bool:
    """True for a raid-size-like sweep path (its last component is ``count``)."""
    return path.rsplit(".", 1)[-1].split("[", 1)[0] == "count"


def all_numeric(values: list) -> bool:
    """True when every swept value is a number (not a bool): the axis is numeric."""
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def crossing(x: np.ndarray, y: np.ndarray, threshold: float) -> float | None:
    """First crossing of ``threshold`` by the piecewise-linear curve through ``(x, y)`` (``x``
    increasing, NaN points dropped): ``x[0]`` when ``y[0] > threshold``, the interpolation
    between the neighbours around the first ``y[k] > threshold`` otherwise, None if never."""
    ok = np.isfinite(y)
    x, y = np.asarray(x, dtype=float)[ok], np.asarray(y, dtype=float)[ok]
    above = np.flatnonzero(y > threshold)
    if above.size == 0:
        return None
    k = int(above[0])
    if k == 0:
        return float(x[0])
    x0, x1, y0, y1 = x[k - 1], x[k], y[k - 1], y[k]
    return float(x0 + (threshold - y0) * (x1 - x0) / (y1 - y0))


def groups_by_others(table: pd.DataFrame, path: str,
                     paths: list[str]) -> list[tuple[dict, pd.DataFrame]]:
    """(values of the other paths, rows sorted by ``path``) for each combination."""
    others = [p for p in paths if p != path]
    if not others:
        return [({}, table.sort_values(path, kind="stable"))]
    out = []
    keys = table[others].astype(str).apply(tuple, axis=1)
    for key in dict.fromkeys(keys):
        sub = table[keys == key]
        out.append(({p: sub[p].iloc[0] for p in others}, sub.sort_values(path, kind="stable")))
    return out


def saturation(table: pd.DataFrame, paths: list[str], threshold: float) -> list[Saturation]:
    """Saturation estimates (see the module docstring) of every numeric count-like path."""
    out = []
    for path in paths:
        if not is_count(path) or not all_numeric(list(table[path])):
            continue
        for others, sub in groups_by_others(table, path, paths):
            x = sub[path].to_numpy(dtype=float)
            m = sub["leakers"].to_numpy(dtype=float)
            finite = np.isfinite(m)
            at = x[finite & (m > threshold)]
            out.append(Saturation(
                path=path, others=others, threshold=threshold,
                at=float(at[0]) if at.size else None,
                interpolated=crossing(x, m, threshold),
                lo=crossing(x, sub["leakers_hi"].to_numpy(dtype=float), threshold),
                hi=crossing(x, sub["leakers_lo"].to_numpy(dtype=float), threshold),
                first=float(x[0]), last=float(x[-1])))
    return out
