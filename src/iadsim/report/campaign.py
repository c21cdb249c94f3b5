"""Self-contained HTML report of a campaign store (``iadsim report STORE``).

The report reads a DuckDB store written by ``iadsim campaign`` (:class:`iadsim.store.Store`)
and writes one HTML file with inline CSS and base64 PNG figures (matplotlib, no pyplot state):
nothing is fetched when it is opened, and every text taken from the store goes through
:func:`html.escape`.

Contents:

* a header: scenario name, runs per design point, runs stored, seed, iadsim version, the
  design (the sweeps and their values) and the scenario's sha256;
* one table row per design point: the swept values, runs stored, the pooled leak rate
  (Σ leakers / Σ threats) with its Wilson 95% interval, mean leakers and mean interceptors
  spent per run with Student-t 95% intervals, and the cost exchange as a ratio of sums
  (Σ interceptor cost / Σ threat cost destroyed, percentile-bootstrap interval over runs); all
  from :func:`iadsim.stats.summarize`, so the figures match ``iadsim campaign``'s summary;
* for each swept parameter, one figure against that parameter with one line per combination of
  the other swept parameters: leak rate with its Wilson band, interceptors spent with t error
  bars, the cost-exchange curve (bootstrap error bars) and, for a count-like parameter, mean
  leakers with t error bars and the saturation threshold;
* a saturation estimate for every count-like swept parameter (the last path component is
  ``count``, e.g. ``raids[0].count``), per combination of the other parameters;
* with sampled parameter uncertainty (``--sample-uncertain``), one row per drawn catalog
  parameter: its range, the Spearman rank correlation between the drawn value and the run's
  leak fraction (leakers / threats) over all runs, and the pooled leak rate (Wilson 95%) of the
  runs that drew it below and above its median, sorted by the size of the correlation;
* with ``--until-ci``, the stopping rule and how many design points met it.

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
The output depends on the store alone (no timestamp).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from iadsim.report.figures import _PALETTE, _png
from iadsim.report.html import _CSS, _esc, html_table, write_text_atomic
from iadsim.report.paired import paired_html, paired_table
from iadsim.stats import summarize
from iadsim.store import Store

__all__ = ["CampaignReport", "Saturation", "crossing", "load_campaign", "point_table",
           "render_campaign_html", "saturation", "write_campaign_report"]

DEFAULT_SATURATION_LEAKERS = 1.0


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


@dataclass
class CampaignReport:
    """What the report shows: the store's metadata and one summary row per design point."""

    scenario_name: str
    runs: int
    seed: int
    version: str
    scenario_hash: str
    store_id: str
    design: dict[str, Any]  # see iadsim.store
    points: list[dict]
    table: pd.DataFrame  # one row per point, see point_table
    threshold: float = DEFAULT_SATURATION_LEAKERS
    saturations: list[Saturation] = field(default_factory=list)
    binned: dict[str, pd.DataFrame] = field(default_factory=dict)  # lhs: path -> binned_table
    uncertain: pd.DataFrame | None = None  # see uncertain_table
    paired: pd.DataFrame | None = None  # grid designs: see iadsim.report.paired

    @property
    def paths(self) -> list[str]:
        return [d["path"] for d in self.design["sweeps"]]

    @property
    def scattered(self) -> bool:
        """True for a Latin hypercube: design points off any grid."""
        return self.design.get("kind") == "lhs"


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


def _is_count(path: str) -> bool:
    return path.rsplit(".", 1)[-1].split("[", 1)[0] == "count"


def _numeric(values: list) -> bool:
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


def _groups(table: pd.DataFrame, path: str, paths: list[str]) -> list[tuple[dict, pd.DataFrame]]:
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
        if not _is_count(path) or not _numeric(list(table[path])):
            continue
        for others, sub in _groups(table, path, paths):
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


def load_campaign(path: str | os.PathLike[str],
                  threshold: float = DEFAULT_SATURATION_LEAKERS) -> CampaignReport:
    """Read the store at ``path`` (raises :class:`iadsim.store.StoreError` for a missing or
    foreign file) into a :class:`CampaignReport`."""
    with Store.open(path) as store:
        per_run = store.per_run()
        table = point_table(store, per_run)
        rep = CampaignReport(
            scenario_name=store.scenario_name, runs=int(store.runs), seed=int(store.seed),
            version=store.version, scenario_hash=store.scenario_hash, store_id=store.id,
            design=store.design, points=store.points, table=table, threshold=threshold)
    if rep.scattered and len(table):
        n = int(rep.design.get("samples") or len(table))
        rep.binned = {d["path"]: binned_table(table, per_run, d, n)
                      for d in rep.design["sweeps"]}
        rep.saturations = [s for path, b in rep.binned.items()
                           for s in saturation(b, [path], threshold)]
    else:
        rep.saturations = saturation(table, rep.paths, threshold) if len(table) else []
    rep.uncertain = uncertain_table(per_run, rep.design)
    if not rep.scattered and len(rep.points) > 1:
        rep.paired = paired_table(per_run)
    return rep


# -- figures -------------------------------------------------------------------------------


def _plain(text: object) -> str:
    return str(text).replace("$", r"\$")


def _label(others: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in others.items()) or "all points"


def _errbars(lo: np.ndarray, est: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.vstack([np.clip(est - lo, 0, None), np.clip(hi - est, 0, None)])


def parameter_png(rep: CampaignReport, path: str) -> str | None:
    """Leak rate (Wilson band), interceptors spent (t bars), cost exchange and, for a
    count-like path, mean leakers with the threshold, against ``path``; None without runs."""
    table = rep.table[rep.table["runs"] > 0]
    if table.empty:
        return None
    values = list(dict.fromkeys(rep.table[path]))
    numeric = _numeric(values)
    order = {str(v): i for i, v in enumerate(values)}
    count = _is_count(path) and numeric
    panels = 4 if count else 3
    fig = Figure(figsize=(4.0 * panels, 3.6), dpi=100, layout="constrained")
    axes = fig.subplots(1, panels)
    groups = _groups(table, path, rep.paths)
    for gi, (others, sub) in enumerate(groups):
        color = _PALETTE[gi % len(_PALETTE)]
        x = (sub[path].to_numpy(dtype=float) if numeric
             else np.array([order[str(v)] for v in sub[path]], dtype=float))
        if not numeric:
            sub = sub.assign(_x=x).sort_values("_x")
            x = sub["_x"].to_numpy()
        label = _plain(_label(others)) if len(groups) <= 10 or gi < 9 else None
        ax = axes[0]
        ax.plot(x, 100 * sub["leak_rate"], "o-", color=color, label=label)
        ax.fill_between(x, 100 * sub["leak_rate_lo"], 100 * sub["leak_rate_hi"], color=color,
                        alpha=0.18, linewidth=0)
        for ax, key in ((axes[1], "spent"), (axes[2], "cx")) + (
                ((axes[3], "leakers"),) if count else ()):
            est = sub[key].to_numpy(dtype=float)
            ax.errorbar(x, est, yerr=_errbars(sub[f"{key}_lo"].to_numpy(dtype=float), est,
                                              sub[f"{key}_hi"].to_numpy(dtype=float)),
                        fmt="o-", color=color, capsize=3)
    titles = _panel_titles(axes, rep, count)
    if count:
        axes[3].legend(fontsize=7)
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(_plain(path))
        ax.grid(alpha=0.3)
        if not numeric:
            ax.set_xticks(range(len(values)), [_plain(v) for v in values])
    axes[0].set_ylim(bottom=0)
    if len(groups) > 1:
        axes[0].legend(fontsize=7, title=None)
    return _png(fig)


def _panel_titles(axes, rep: CampaignReport, count: bool) -> list[str]:
    """The panel titles; with a count sweep the leakers panel also gets the threshold line."""
    titles = ["Leak rate (%), Wilson 95%", "Interceptors spent per run, t 95%",
              "Cost exchange (Σ cost / Σ destroyed)"]
    if count:
        titles.append("Mean leakers per run, t 95%")
        axes[3].axhline(rep.threshold, color="#d62728", linestyle="--", linewidth=1,
                        label=f"threshold {rep.threshold:g}")
    return titles


def scattered_png(rep: CampaignReport, path: str) -> str | None:
    """A scattered design's figure against ``path``: every design point (grey, its own 95%
    interval) and the binned curve (pooled runs, 95% band or bars); None without runs."""
    table = rep.table[rep.table["runs"] > 0]
    binned = rep.binned.get(path)
    if table.empty or binned is None or binned.empty:
        return None
    sweep = next(d for d in rep.design["sweeps"] if d["path"] == path)
    levels = sweep.get("values")
    count = _is_count(path) and levels is None
    panels = 4 if count else 3
    fig = Figure(figsize=(4.0 * panels, 3.6), dpi=100, layout="constrained")
    axes = fig.subplots(1, panels)

    def xs(values: pd.Series) -> np.ndarray:
        if levels is None:
            return values.to_numpy(dtype=float)
        order = {json.dumps(v): i for i, v in enumerate(levels)}
        return np.array([order[json.dumps(v)] for v in values], dtype=float)

    scale = {"leak_rate": 100.0}
    keys = ["leak_rate", "spent", "cx"] + (["leakers"] if count else [])
    xp, xb = xs(table[path]), xs(binned[path])
    for ax, key in zip(axes, keys, strict=True):
        k = scale.get(key, 1.0)
        est = k * table[key].to_numpy(dtype=float)
        ax.errorbar(xp, est, yerr=_errbars(k * table[f"{key}_lo"].to_numpy(dtype=float), est,
                                           k * table[f"{key}_hi"].to_numpy(dtype=float)),
                    fmt=".", color="#999999", alpha=0.5, capsize=0, linewidth=0.8,
                    label="design points")
        est = k * binned[key].to_numpy(dtype=float)
        lo, hi = k * binned[f"{key}_lo"].to_numpy(dtype=float), k * binned[
            f"{key}_hi"].to_numpy(dtype=float)
        ax.plot(xb, est, "o-", color=_PALETTE[0], label="binned (pooled runs)")
        ax.fill_between(xb, lo, hi, color=_PALETTE[0], alpha=0.2, linewidth=0)
    titles = _panel_titles(axes, rep, count)
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(_plain(path))
        ax.grid(alpha=0.3)
        if levels is not None:
            ax.set_xticks(range(len(levels)), [_plain(v) for v in levels])
    axes[0].set_ylim(bottom=0)
    axes[0].legend(fontsize=7)
    return _png(fig)


# -- HTML ----------------------------------------------------------------------------------


def _num(v: float, fmt: str = "{:.3g}") -> str:
    return fmt.format(v) if isinstance(v, int | float) and math.isfinite(v) else "-"


def _pct(v: float) -> str:
    return _num(100 * v, "{:.1f}%") if math.isfinite(v) else "-"


def _val(v: float) -> str:
    return f"{v:g}"


def _cell(v: object) -> str:
    if isinstance(v, str):
        return json.dumps(v)
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _design_text(design: dict) -> str:
    sweeps = []
    for d in design["sweeps"]:
        if "values" in d:
            sweeps.append(f"{d['path']} = {', '.join(map(str, d['values']))}")
        else:
            kind = "integers" if d.get("integer") else "interval"
            sweeps.append(f"{d['path']} in [{d['low']:g}, {d['high']:g}] ({kind})")
    text = "; ".join(sweeps) or "no sweep (one design point)"
    if design.get("kind") == "lhs":
        text = f"Latin hypercube of {design.get('samples')} points: {text}"
    return text


def _uncertain_html(rep: CampaignReport) -> str:
    t = rep.uncertain
    if t is None:
        return ""
    spec = rep.design["uncertain"]
    head = ["parameter", "catalog value", "low", "high", "unit", "Spearman ρ", "p",
            "leak rate, draw < median", "95% (Wilson)", "leak rate, draw ≥ median",
            "95% (Wilson)"]
    rows = []
    for r in t.to_dict("records"):
        cells = [r["name"], _val(r["value"]), _val(r["low"]), _val(r["high"]), r["unit"],
                 _num(r["rho"], "{:+.3f}"), _num(r["p"], "{:.2g}"), _pct(r["below"]),
                 f"{_pct(r['below_lo'])} – {_pct(r['below_hi'])}", _pct(r["above"]),
                 f"{_pct(r['above_lo'])} – {_pct(r['above_hi'])}"]
        rows.append(cells)
    return (f"<p>Each run drew these catalog parameters from {_esc(spec['distribution'])} "
            "(a labelled assumption: the catalog gives a range, not a distribution), the same "
            "values at every design point for a given run. ρ: Spearman rank correlation of the "
            "drawn value with the run's leak fraction (leakers / threats) over all runs; the "
            "pooled leak rates split the runs at the median draw. Sorted by |ρ|. A ρ near 0 "
            "with a small p-value is still a weak effect; many parameters means some small "
            "p-values by chance.</p>" + html_table(head, rows))


def _points_html(rep: CampaignReport) -> str:
    head = ["point", *rep.paths, "runs", "leak rate", "95% (Wilson)", "mean leakers",
            "95% (t)", "interceptors spent", "95% (t)", "cost exchange", "95% (bootstrap)"]
    rows = []
    for r in rep.table.to_dict("records"):
        cells = [str(r["point"]), *(_cell(r[p]) for p in rep.paths), str(r["runs"]),
                 _pct(r["leak_rate"]), f"{_pct(r['leak_rate_lo'])} – {_pct(r['leak_rate_hi'])}",
                 _num(r["leakers"]), f"{_num(r['leakers_lo'])} – {_num(r['leakers_hi'])}",
                 _num(r["spent"]), f"{_num(r['spent_lo'])} – {_num(r['spent_hi'])}",
                 _num(r["cx"]), f"{_num(r['cx_lo'])} – {_num(r['cx_hi'])}"]
        rows.append(cells)
    return html_table(head, rows, num_from=len(rep.paths) + 1)


def _saturation_html(rep: CampaignReport) -> str:
    if not rep.saturations:
        return ('<p class="note">No count-like parameter (a path ending in <code>count</code>, '
                'e.g. <code>raids[0].count</code>) with numeric values is swept: no saturation '
                'estimate.</p>')
    head = ["parameter", "other parameters", "saturation at", "interpolated", "95% interval"]
    rows = []
    for s in rep.saturations:
        if s.at is None:
            at = interp = (f"not reached (mean leakers ≤ {_val(s.threshold)} at every value up to "
                           f"{_val(s.last)})")
        else:
            at = _val(s.at) if s.at > s.first else f"≤ {_val(s.first)}"
            interp = _num(s.interpolated, "{:.4g}")
            if s.at == s.first:
                interp = f"≤ {_val(s.first)}"
        lo = "-" if s.lo is None else (f"≤ {_val(s.first)}" if s.lo == s.first
                                       else _num(s.lo, "{:.4g}"))
        hi = f"> {_val(s.last)} (not reached)" if s.hi is None else (
            f"≤ {_val(s.first)}" if s.hi == s.first else _num(s.hi, "{:.4g}"))
        interval = f"> {_val(s.last)} (not reached)" if s.lo is None else f"{lo} – {hi}"
        others = "binned, averaged over the others" if rep.scattered else _label(s.others)
        rows.append([s.path, others, at, interp, interval])
    return (f"<p>Threshold: mean leakers per run &gt; {_esc(_val(rep.threshold))}. "
            "<em>Saturation at</em> is the smallest swept value whose mean leakers exceeds the "
            "threshold; <em>interpolated</em> is where the piecewise-linear curve of mean "
            "leakers through the swept values first crosses it; the <em>95% interval</em> runs "
            "from the first crossing of the curve of upper Student-t bounds to the first "
            "crossing of the curve of lower bounds (pointwise intervals of the neighbouring "
            "swept points, joined linearly; not a simultaneous band).</p>"
            + html_table(head, rows))


def render_campaign_html(rep: CampaignReport) -> str:
    """The whole report as one HTML string."""
    stored = int(rep.table["runs"].sum()) if len(rep.table) else 0
    expected = rep.runs * len(rep.points)
    until = rep.design.get("until_ci")
    meta = [("scenario", rep.scenario_name), ("design points", len(rep.points)),
            ("runs per point", f"up to {rep.runs}" if until else rep.runs),
            ("runs stored", f"{stored}" if until else f"{stored} of {expected}"),
            ("seed", rep.seed), ("iadsim version", rep.version),
            ("design", _design_text(rep.design)),
            ("scenario sha256", rep.scenario_hash), ("store id", rep.store_id)]
    if until and len(rep.table):
        half = (rep.table["leak_rate_hi"] - rep.table["leak_rate_lo"]) / 2
        met = int((half <= until["half_width"] + 1e-12).sum())
        meta.insert(3, ("stopping rule", f"a point stops once its leak rate's Wilson 95% "
                        f"interval has half-width ≤ {until['half_width']:g}, checked every "
                        f"{until['block']} runs in run order; {met} of {len(rep.points)} "
                        f"points met it"))
    header = ("<table>" + "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>"
                                  for k, v in meta) + "</table>")
    if stored < expected and not until:
        header += (f'<p class="note">Incomplete campaign: {stored} of {expected} runs stored '
                   f"(resume it with <code>iadsim campaign ... --resume</code>).</p>")
    figs = []
    for path in rep.paths:
        b64 = scattered_png(rep, path) if rep.scattered else parameter_png(rep, path)
        figs.append(f"<h3>{_esc(path)}</h3>")
        figs.append('<p class="note">No runs stored: nothing to draw.</p>' if b64 is None else
                    f'<img alt="{_esc("metrics against " + path)}" '
                    f'src="data:image/png;base64,{b64}">')
    if not rep.paths:
        figs.append('<p class="note">Nothing swept: no parameter figures.</p>')
    sections = [
        ("campaign", "Campaign", header),
        ("points", "Design points", "<p>Leak rate: Σ leakers / Σ threats with the Wilson 95% "
         "interval; leakers and interceptors spent: mean per run with the Student-t 95% "
         "interval; cost exchange: Σ interceptor cost / Σ threat cost destroyed (ratio of "
         "sums) with a percentile-bootstrap 95% interval over runs.</p>" + _points_html(rep)),
        ("parameters", "Against each swept parameter",
         ("<p>Latin hypercube: grey dots are the design points with their own 95% intervals; "
          "the line is the binned curve (all runs of the points in a bin pooled, drawn at the "
          "bin's mean value) with its 95% band. It averages over the other parameters.</p>"
          if rep.scattered else
          "<p>One line per combination of the other swept parameters; bands and bars are 95% "
          "intervals.</p>") + "\n".join(figs)),
        ("saturation", "Saturation", _saturation_html(rep)),
    ]
    if rep.paired is not None and (text := paired_html(rep.paired, rep.points)):
        sections.insert(2, ("paired", "Paired differences (common random numbers)", text))
    if rep.uncertain is not None:
        sections.append(("uncertain", "Sampled parameter uncertainty", _uncertain_html(rep)))
    nav = "".join(f'<a href="#{sid}">{_esc(t)}</a>' for sid, t, _ in sections)
    body = "\n".join(f'<section id="{sid}"><h2>{_esc(t)}</h2>\n{b}\n</section>'
                     for sid, t, b in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{_esc(rep.scenario_name)}: campaign report</title>"
            f"<style>{_CSS}</style></head><body>\n"
            f"<h1>{_esc(rep.scenario_name)}: campaign report</h1><nav>{nav}</nav>\n{body}\n"
            f"<footer>iadsim {_esc(rep.version)} campaign report; figures are inline PNGs, "
            f"the file needs no network.</footer>\n</body></html>\n")


def write_campaign_report(store: str | os.PathLike[str], out: str | os.PathLike[str],
                          threshold: float = DEFAULT_SATURATION_LEAKERS) -> Path:
    """Read ``store`` and write the report to ``out`` atomically (temporary sibling, then
    rename); returns ``out``. Raises :class:`iadsim.store.StoreError` for a bad store."""
    return write_text_atomic(out, render_campaign_html(load_campaign(store, threshold)))
