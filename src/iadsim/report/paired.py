"""Paired differences between design points: what common random numbers buy.

Run ``r`` of every design point draws the same random numbers (same raid, sensing and
engagement draws as far as the histories agree; :mod:`iadsim.distributed`), so the effect of a
change is best estimated run by run: ``d_r = m_r(point) - m_r(baseline)`` over the runs both
points have, with the Student-t 95% interval of the mean of ``d``. The variance of ``d`` is
``Var a + Var b - 2 Cov(a, b)``; the positive correlation that common random numbers induce
makes it smaller than for independent runs, and the table reports by how much
(``(Var a + Var b) / Var d``, the factor by which independent sampling would need more runs
for the same interval). Reference: A. M. Law, *Simulation Modeling and Analysis*, 5th ed.,
sec. 10.2 (paired-t confidence interval, common random numbers).
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
from scipy import stats

from iadsim.report.html import html_table

__all__ = ["METRICS", "paired_html", "paired_table"]

#: (column of the per-run table, label); ``leak_fraction`` is leakers / threats per run.
METRICS = (("leakers", "leakers"), ("interceptors_spent", "interceptors spent"),
           ("leak_fraction", "leak fraction"))
MAX_POINTS = 50  # beyond this many design points the table is left out


def paired_table(per_run: pd.DataFrame, baseline: int = 0) -> pd.DataFrame:
    """One row per (design point other than ``baseline``, metric): ``point``, ``metric``,
    ``n`` paired runs, ``diff`` (mean difference), ``lo``/``hi`` (t 95%), and ``vrf`` (the
    variance reduction factor of pairing; NaN when undefined)."""
    cols = ["point", "metric", "n", "diff", "lo", "hi", "vrf"]
    if per_run.empty or "point" not in per_run or per_run["point"].nunique() < 2:
        return pd.DataFrame(columns=cols)
    df = per_run.copy()
    df["leak_fraction"] = df["leakers"] / df["threats"].where(df["threats"] > 0)
    base = df[df["point"] == baseline].set_index("run")
    rows = []
    for point in sorted(p for p in df["point"].unique() if p != baseline):
        other = df[df["point"] == point].set_index("run")
        both = base.index.intersection(other.index)
        for key, _ in METRICS:
            a = other.loc[both, key].to_numpy(float)
            b = base.loc[both, key].to_numpy(float)
            ok = np.isfinite(a) & np.isfinite(b)
            a, b = a[ok], b[ok]
            n = int(a.size)
            d = a - b
            mean = float(d.mean()) if n else math.nan
            if n >= 2:
                half = float(stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / math.sqrt(n))
                var_d = float(d.var(ddof=1))
                indep = float(a.var(ddof=1) + b.var(ddof=1))
                vrf = indep / var_d if var_d > 0 else math.nan
            else:
                half, vrf = math.nan, math.nan
            rows.append((int(point), key, n, mean, mean - half, mean + half, vrf))
    return pd.DataFrame(rows, columns=cols)


def paired_html(table: pd.DataFrame, points: list[dict], baseline: int = 0) -> str:
    """The table as HTML (empty string when there is nothing to compare)."""
    if table.empty or len(points) > MAX_POINTS:
        return ""
    label = dict(METRICS)

    def name(p: int) -> str:
        values = points[p] if p < len(points) else {}
        return f"{p}: " + (", ".join(f"{k} = {v}" for k, v in values.items()) or "-")

    def num(v: float) -> str:
        return "-" if not math.isfinite(v) else f"{v:+.3g}"

    rows = []
    for r in table.to_dict("records"):
        vrf = "-" if not math.isfinite(r["vrf"]) else f"{r['vrf']:.1f}x"
        cells = [name(r["point"]), label[r["metric"]], str(r["n"]), num(r["diff"]),
                 f"{num(r['lo'])} – {num(r['hi'])}", vrf]
        rows.append(cells)
    head = ["design point", "metric", "paired runs", "mean difference", "95% (paired t)",
            "variance reduction"]
    return (f"<p>Each design point against point {html.escape(name(baseline))}, run by run "
            "(run r of every point draws the same random numbers). A difference whose interval "
            "excludes 0 is a real effect of the change at this number of runs. Variance "
            "reduction: how many times more runs independent sampling would need for the same "
            "interval.</p>" + html_table(head, rows, num_from=2))
