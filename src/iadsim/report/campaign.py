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
  ``count``, e.g. ``raids[0].count``), per combination of the other parameters.

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

import html
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
from iadsim.report.html import _CSS, write_text_atomic
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
    design: list[dict]
    points: list[dict]
    table: pd.DataFrame  # one row per point, see point_table
    threshold: float = DEFAULT_SATURATION_LEAKERS
    saturations: list[Saturation] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [d["path"] for d in self.design]


_ROW_METRICS = {"leak_rate": "leak_rate", "leakers": "leakers",
                "interceptors_spent": "spent", "cost_exchange": "cx"}


def point_table(store: Store) -> pd.DataFrame:
    """One row per design point: ``point``, the swept values (one column per path), ``runs``,
    and ``<m>``, ``<m>_lo``, ``<m>_hi`` for ``m`` in ``leak_rate`` (Wilson), ``leakers`` and
    ``spent`` (interceptors spent, Student t), ``cx`` (cost exchange, ratio of sums with a
    bootstrap interval). A point without runs has NaN metrics."""
    rows = []
    for i, values in enumerate(store.points):
        df = store.per_run(i)
        row: dict[str, Any] = {"point": i, **values, "runs": len(df)}
        if len(df):
            s = summarize(df.drop(columns=["point"])).set_index("metric")
        for metric, key in _ROW_METRICS.items():
            for suffix, col in (("", "estimate"), ("_lo", "lo"), ("_hi", "hi")):
                row[key + suffix] = float(s.loc[metric, col]) if len(df) else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


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
        table = point_table(store)
        rep = CampaignReport(
            scenario_name=store.scenario_name, runs=int(store.runs), seed=int(store.seed),
            version=store.version, scenario_hash=store.scenario_hash, store_id=store.id,
            design=store.design, points=store.points, table=table, threshold=threshold)
    rep.saturations = saturation(table, rep.paths, threshold) if len(table) else []
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
    titles = ["Leak rate (%), Wilson 95%", "Interceptors spent per run, t 95%",
              "Cost exchange (Σ cost / Σ destroyed)"]
    if count:
        titles.append("Mean leakers per run, t 95%")
        axes[3].axhline(rep.threshold, color="#d62728", linestyle="--", linewidth=1,
                        label=f"threshold {rep.threshold:g}")
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


# -- HTML ----------------------------------------------------------------------------------


def _esc(x: object) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _num(v: float, fmt: str = "{:.3g}") -> str:
    return fmt.format(v) if isinstance(v, int | float) and math.isfinite(v) else "-"


def _pct(v: float) -> str:
    return _num(100 * v, "{:.1f}%") if math.isfinite(v) else "-"


def _val(v: float) -> str:
    return f"{v:g}"


def _points_html(rep: CampaignReport) -> str:
    head = ["point", *rep.paths, "runs", "leak rate", "95% (Wilson)", "mean leakers",
            "95% (t)", "interceptors spent", "95% (t)", "cost exchange", "95% (bootstrap)"]
    rows = []
    for r in rep.table.to_dict("records"):
        cells = [str(r["point"]), *(json.dumps(r[p]) if isinstance(r[p], str) else str(r[p])
                                    for p in rep.paths), str(r["runs"]),
                 _pct(r["leak_rate"]), f"{_pct(r['leak_rate_lo'])} – {_pct(r['leak_rate_hi'])}",
                 _num(r["leakers"]), f"{_num(r['leakers_lo'])} – {_num(r['leakers_hi'])}",
                 _num(r["spent"]), f"{_num(r['spent_lo'])} – {_num(r['spent_hi'])}",
                 _num(r["cx"]), f"{_num(r['cx_lo'])} – {_num(r['cx_hi'])}"]
        rows.append("<tr>" + "".join(
            f'<td{" class=num" if j > len(rep.paths) else ""}>{_esc(c)}</td>'
            for j, c in enumerate(cells)) + "</tr>")
    return ("<table><thead><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in head)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


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
        rows.append("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in (
            s.path, _label(s.others), at, interp, interval)) + "</tr>")
    return (f"<p>Threshold: mean leakers per run &gt; {_esc(_val(rep.threshold))}. "
            "<em>Saturation at</em> is the smallest swept value whose mean leakers exceeds the "
            "threshold; <em>interpolated</em> is where the piecewise-linear curve of mean "
            "leakers through the swept values first crosses it; the <em>95% interval</em> runs "
            "from the first crossing of the curve of upper Student-t bounds to the first "
            "crossing of the curve of lower bounds (pointwise intervals of the neighbouring "
            "swept points, joined linearly; not a simultaneous band).</p>"
            "<table><thead><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in head)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def render_campaign_html(rep: CampaignReport) -> str:
    """The whole report as one HTML string."""
    design = "; ".join(f"{d['path']} = {', '.join(map(str, d['values']))}"
                       for d in rep.design) or "no sweep (one design point)"
    stored = int(rep.table["runs"].sum()) if len(rep.table) else 0
    expected = rep.runs * len(rep.points)
    meta = [("scenario", rep.scenario_name), ("design points", len(rep.points)),
            ("runs per point", rep.runs), ("runs stored", f"{stored} of {expected}"),
            ("seed", rep.seed), ("iadsim version", rep.version), ("design", design),
            ("scenario sha256", rep.scenario_hash), ("store id", rep.store_id)]
    header = ("<table>" + "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>"
                                  for k, v in meta) + "</table>")
    if stored < expected:
        header += (f'<p class="note">Incomplete campaign: {stored} of {expected} runs stored '
                   f"(resume it with <code>iadsim campaign ... --resume</code>).</p>")
    figs = []
    for path in rep.paths:
        b64 = parameter_png(rep, path)
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
         "<p>One line per combination of the other swept parameters; bands and bars are 95% "
         "intervals.</p>" + "\n".join(figs)),
        ("saturation", "Saturation", _saturation_html(rep)),
    ]
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
