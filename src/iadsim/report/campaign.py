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

The tables, the binned curves of scattered designs and the saturation estimate are computed in
:mod:`iadsim.report.campaign_tables` (their definitions are there). The output depends on the
store alone (no timestamp).
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

from iadsim.report.campaign_tables import (
    Saturation,
    all_numeric,
    binned_table,
    crossing,
    groups_by_others,
    is_count,
    point_table,
    saturation,
    uncertain_table,
)
from iadsim.report.figures import _PALETTE, _plain, _png
from iadsim.report.html import _CSS, _esc, html_table, write_text_atomic
from iadsim.report.paired import paired_html, paired_table
from iadsim.store import Store

__all__ = ["CampaignReport", "Saturation", "crossing", "load_campaign", "point_table",
           "render_campaign_html", "saturation", "write_campaign_report"]

DEFAULT_SATURATION_LEAKERS = 1.0


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
    numeric = all_numeric(values)
    order = {str(v): i for i, v in enumerate(values)}
    count = is_count(path) and numeric
    panels = 4 if count else 3
    fig = Figure(figsize=(4.0 * panels, 3.6), dpi=100, layout="constrained")
    axes = fig.subplots(1, panels)
    groups = groups_by_others(table, path, rep.paths)
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
    count = is_count(path) and levels is None
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
