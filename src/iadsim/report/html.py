"""HTML assembly of the campaign report (see :mod:`iadsim.report`).

All text from the data goes through :func:`html.escape`; figures are inline base64 PNGs and the
stylesheet is inline, so the file opens offline. Nothing time-dependent is written.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from iadsim.report import figures

if TYPE_CHECKING:
    from iadsim.report import ReportData

__all__ = ["format_summary", "render_html", "write_report"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:1100px;padding:0 1.2em 2em;color:#1b1b1b;line-height:1.45}
h1{margin:.8em 0 .2em}h2{border-bottom:2px solid #d0d7de;padding-bottom:.2em;margin-top:1.6em}
nav a{margin-right:1em}table{border-collapse:collapse;font-size:.9em;margin:.6em 0}
th,td{border:1px solid #d0d7de;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f5f7}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
pre{background:#f6f8fa;padding:.8em;overflow:auto;font-size:.85em}
img{max-width:100%;height:auto;display:block;margin:.6em 0}
.meta{color:#555}.note{color:#555;font-style:italic}
footer{margin-top:2.5em;border-top:1px solid #d0d7de;padding-top:.6em;color:#555;font-size:.85em}
"""

_LABELS = {
    "leak_rate": "Leak rate (all threats pooled)",
    "p_any_leak": "P(at least one leaker in a run)",
    "leakers": "Leakers per run",
    "kills": "Kills per run",
    "interceptors_spent": "Interceptors spent per run",
    "interceptor_cost_usd": "Interceptor cost per run",
    "assets_hit": "Assets hit per run",
    "asset_value_lost": "Asset value lost per run",
    "first_leak_s": "Time of first leak (runs that leaked)",
    "cost_exchange": "Cost exchange (Σ interceptor cost / Σ threat cost destroyed)",
}
_PREFIX_LABELS = {
    "leak_rate": "Leak rate",
    "kills": "Kills per run",
    "spent": "Rounds spent per run",
    "p_hit": "P(asset hit)",
}
_METHODS = {
    "wilson": "Wilson score",
    "t": "Student t",
    "bootstrap": "ratio of sums, percentile bootstrap over runs",
}


def _esc(x: object) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _finite(x: object) -> bool:
    try:
        return math.isfinite(float(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _unit_and_scale(metric: str) -> tuple[str, float, str]:
    """(unit shown, multiplier, format) for a summary metric."""
    base = metric.split(".", 1)[0]
    if base in ("leak_rate", "p_any_leak", "p_hit"):
        return "%", 100.0, "{:.1f}"
    if base in ("interceptor_cost_usd", "asset_value_lost"):
        return "US$ M", 1e-6, "{:,.2f}"
    if base == "cost_exchange":
        return "US$ per US$", 1.0, "{:,.2f}"
    if base == "first_leak_s":
        return "s", 1.0, "{:,.1f}"
    return "", 1.0, "{:,.2f}"


def _fmt(x: object, scale: float, fmt: str) -> str:
    if not _finite(x):
        return "–"
    v = float(x) * scale  # type: ignore[arg-type]
    if fmt == "{:.1f}" and 0.0 < abs(v) < 1.0:
        return f"{v:.2f}"
    return fmt.format(v)


def _label(metric: str) -> str:
    if metric in _LABELS:
        return _LABELS[metric]
    prefix, _, name = metric.partition(".")
    return f"{_PREFIX_LABELS.get(prefix, prefix)} · {name}" if name else metric


def format_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Readable summary: ``quantity, estimate, interval, unit, n, method`` as strings (rates
    in %, costs in US$ M, NaN as ``–``)."""
    rows = []
    for r in summary.itertuples(index=False):
        unit, scale, fmt = _unit_and_scale(str(r.metric))
        lo, hi = _fmt(r.lo, scale, fmt), _fmt(r.hi, scale, fmt)
        rows.append(
            {
                "quantity": _label(str(r.metric)),
                "metric": str(r.metric),
                "estimate": _fmt(r.estimate, scale, fmt),
                "interval": f"{lo} – {hi}" if _finite(r.lo) or _finite(r.hi) else "–",
                "unit": unit,
                "n": f"{int(r.n):,}" if _finite(r.n) else "–",
                "method": _METHODS.get(str(r.method), str(r.method)),
            }
        )
    return pd.DataFrame(
        rows, columns=["quantity", "metric", "estimate", "interval", "unit", "n", "method"]
    )


def _table(df: pd.DataFrame, num_cols: tuple[str, ...] = (), headers: dict | None = None) -> str:
    headers = headers or {}
    head = "".join(f"<th>{_esc(headers.get(c, c))}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for c, v in zip(df.columns, row, strict=True):
            cls = ' class="num"' if c in num_cols else ""
            cells.append(f"<td{cls}>{_esc(_cell(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def html_table(head: list[str], rows: list[list[str]], num_from: int | None = None) -> str:
    """An HTML table of text cells (escaped); cells from column ``num_from`` on are numeric."""
    th = "".join(f"<th>{_esc(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if num_from is not None and j >= num_from else ""}>'
                         f"{_esc(c)}</td>" for j, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float | np.floating):
        return "" if math.isnan(v) else f"{float(v):.6g}"
    return str(v)


def _img(b64: str | None, alt: str, empty: str) -> str:
    if b64 is None:
        return f'<p class="note">{_esc(empty)}</p>'
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{b64}">'


def _t_end(data: ReportData) -> float | None:
    ends = [
        float(df["t"].max())
        for df in (data.events, data.paths)
        if df is not None and len(df) and "t" in df.columns
    ]
    return max(ends) if ends else None


def _section(sid: str, title: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{_esc(title)}</h2>\n{body}\n</section>'


def _results(summary: pd.DataFrame) -> str:
    if summary is None or len(summary) == 0:
        return '<p class="note">No summary rows.</p>'
    conf = float(summary.attrs.get("confidence", 0.95))
    shown = format_summary(summary).drop(columns=["metric"])
    note = (
        f"<p>Estimates with their {conf:.0%} confidence interval. The pooled leak rate treats "
        "every threat as an independent trial, which understates the interval when leaks "
        "cluster in saturated runs; the per-run rows do not make that assumption.</p>"
    )
    return note + _table(
        shown,
        num_cols=("estimate", "interval", "n"),
        headers={"interval": f"{conf:.0%} interval"},
    )


def _assumptions(df: pd.DataFrame) -> str:
    intro = (
        "<p>Every labelled assumption this scenario relied on: figures that are not taken "
        "from a cited public source. Results depend on them.</p>"
    )
    if df is None or len(df) == 0:
        return intro + '<p class="note">This scenario used no labelled assumptions.</p>'
    cols = [c for c in ("entry", "param", "value", "unit", "note") if c in df.columns]
    cols += [c for c in df.columns if c not in cols]
    return intro + _table(df[cols], num_cols=("value",))


def _header(data: ReportData) -> str:
    threats = ""
    if data.per_run is not None and "threats" in data.per_run.columns and len(data.per_run):
        mean = float(data.per_run["threats"].mean())
        threats = f" · threats per run: {_esc(f'{mean:,.4g}')}"
    return (
        f"<header><h1>{_esc(data.title)}</h1>"
        f'<p class="meta">Scenario <b>{_esc(data.scenario_name)}</b> · '
        f"{_esc(f'{int(data.runs):,}')} Monte Carlo runs · root seed {_esc(data.seed)}{threats}"
        "</p>"
        '<nav><a href="#results">Results</a><a href="#map">Map</a>'
        '<a href="#timeline">Timeline</a><a href="#leakers">Leakers by type</a>'
        '<a href="#magazine">Magazines</a><a href="#distribution">Per-run distribution</a>'
        '<a href="#assumptions">Assumptions</a></nav>'
        "<details><summary>Scenario file</summary>"
        f"<pre>{_esc(data.scenario_text)}</pre></details></header>"
    )


def _sites_details(sites: pd.DataFrame) -> str:
    if sites is None or len(sites) == 0:
        return ""
    return f"<details><summary>Sites ({len(sites)})</summary>{_table(sites, ('e_m', 'n_m', 'radius_m'))}</details>"  # noqa: E501


def render_html(data: ReportData) -> str:
    """The report as one HTML string (see :func:`write_report`)."""
    conf = f"{float(data.summary.attrs.get('confidence', 0.95)):.0%}"
    sections = [
        _section("results", "Results", _results(data.summary)),
        _section(
            "map",
            "Map (run 0)",
            _img(
                figures.map_png(data.sites, data.paths, data.events),
                "map of sites, threat paths, kills and leaks",
                "Nothing to draw: no sites, paths or events.",
            )
            + _sites_details(data.sites),
        ),
        _section(
            "timeline",
            "Engagement timeline (run 0)",
            _img(
                figures.timeline_png(data.events, data.sites),
                "engagement timeline per fire unit",
                "No launches, kills, misses or leaks in run 0.",
            ),
        ),
        _section(
            "leakers",
            "Leakers by threat type",
            _img(
                figures.leak_by_type_png(data.summary),
                f"leak rate per threat type with {conf} Wilson intervals",
                "No threats, so no leak rate.",
            )
            + '<p class="note">Threats of each type pooled over all runs; error bars: '
            f"{conf} Wilson score interval (see the results table).</p>",
        ),
        _section(
            "magazine",
            "Magazine depletion (run 0)",
            _img(
                figures.magazine_png(data.magazine, _t_end(data)),
                "rounds left per fire unit and interceptor over time",
                "No magazine record for run 0.",
            ),
        ),
        _section(
            "distribution",
            "Per-run distribution",
            _img(
                figures.distribution_png(data.per_run),
                "histograms of leakers and interceptors spent per run",
                "No runs.",
            ),
        ),
        _section("assumptions", "Assumptions", _assumptions(data.assumptions)),
    ]
    versions = " · ".join(f"{_esc(k)} {_esc(v)}" for k, v in data.versions.items())
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(data.title)}</title><style>{_CSS}</style></head><body>\n"
        + _header(data)
        + "\n"
        + "\n".join(sections)
        + f"\n<footer>Generated by iadsim. {versions}</footer>\n</body></html>\n"
    )


def write_report(path: str | os.PathLike[str], data: ReportData) -> Path:
    """Write the report to ``path`` (parents created) and return it as a :class:`Path`.

    The file is written to a temporary sibling and renamed into place, so a failure leaves no
    half-written report. The output depends on ``data`` alone (no timestamp).
    """
    return write_text_atomic(path, render_html(data))


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to a temporary sibling of ``path`` and rename it into place."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
