"""Report figures, each rendered to a base64 PNG string (matplotlib, Agg, no pyplot state).

Every function takes plain DataFrames (the fields of :class:`iadsim.report.ReportData`) and
returns the PNG as base64 text, or ``None`` when there is nothing to draw (the HTML then says
so in words). Figures are built on :class:`matplotlib.figure.Figure` directly, so no global
pyplot state, GUI backend or thread issue is involved, and PNG metadata is stripped so the same
input gives the same bytes.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle

__all__ = [
    "DPI",
    "distribution_png",
    "leak_by_type_png",
    "magazine_png",
    "map_png",
    "timeline_png",
    "type_colors",
]

DPI = 100
_PALETTE = tuple(
    "#1f77b4 #ff7f0e #2ca02c #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf #aec7e8".split()
)
_UNIT_COLOR = "#1f4e9c"
_SENSOR_COLOR = "#2a7f3f"
_ASSET_COLOR = "#b8860b"
_KILL_COLOR = "#222222"
_LEAK_COLOR = "#d62728"


def type_colors(types: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Stable colour per threat type (sorted names, cycling a colour-blind-safe palette)."""
    return {t: _PALETTE[i % len(_PALETTE)] for i, t in enumerate(sorted(set(types)))}


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _col(df: pd.DataFrame | None, name: str, default: object = np.nan) -> pd.Series:
    """Column ``name`` of ``df``, or a column of ``default`` when absent (empty inputs)."""
    if df is None:
        return pd.Series([], dtype=object)
    if name in df.columns:
        return df[name]
    return pd.Series([default] * len(df), index=df.index)


def _kind(events: pd.DataFrame, kind: str) -> pd.DataFrame:
    if events is None or len(events) == 0 or "kind" not in events.columns:
        return pd.DataFrame(columns=["t", "e", "n", "unit_name"])
    return events[events["kind"].astype(str) == kind]


def _unit_label(events: pd.DataFrame) -> pd.Series:
    """``unit_name`` where given, else ``unit <index>``."""
    names = _col(events, "unit_name", "").fillna("").astype(str)
    idx = _col(events, "unit", -1)
    fallback = idx.map(lambda u: f"unit {int(u)}" if pd.notna(u) and int(u) >= 0 else "")
    return names.where(names != "", fallback)


def _plain(text: object) -> str:
    """Text shown literally by matplotlib (a ``$`` would start mathtext)."""
    return str(text).replace("$", r"\$")


def _polylines(paths: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """All threats' (e, n) tracks in time order, joined by NaN breaks: one artist per type."""
    p = paths.sort_values(["threat", "t"], kind="stable")
    e, n = p["e"].to_numpy(float), p["n"].to_numpy(float)
    brk = np.flatnonzero(np.diff(p["threat"].to_numpy()) != 0) + 1
    return np.insert(e, brk, np.nan), np.insert(n, brk, np.nan)


def map_png(sites: pd.DataFrame, paths: pd.DataFrame, events: pd.DataFrame) -> str | None:
    """Plan view in local km: sites with their range circles, run-0 paths, kills and leaks."""
    has_sites = sites is not None and len(sites) > 0
    has_paths = paths is not None and len(paths) > 0
    kills, leaks = _kind(events, "kill"), _kind(events, "leak")
    if not (has_sites or has_paths or len(kills) or len(leaks)):
        return None
    fig = Figure(figsize=(8.0, 7.0))
    ax = fig.add_subplot()
    handles: list[Line2D] = []

    style = {
        "fire_unit": ("^", _UNIT_COLOR, "-", "fire unit (engagement range)"),
        "sensor": ("s", _SENSOR_COLOR, "--", "sensor (1 m² detection range)"),
        "asset": ("*", _ASSET_COLOR, ":", "defended asset (radius)"),
    }
    if has_sites:
        kinds = _col(sites, "kind", "").astype(str)
        for kind, (marker, color, ls, label) in style.items():
            sel = sites[kinds == kind]
            if len(sel) == 0:
                continue
            e = sel["e_m"].astype(float).to_numpy() / 1e3
            n = sel["n_m"].astype(float).to_numpy() / 1e3
            r = _col(sel, "radius_m").astype(float).to_numpy() / 1e3
            size = 16 if marker == "*" else 9
            ax.plot(
                e, n, ls="none", marker=marker, color=color, ms=size, mec="k", mew=0.6, zorder=5
            )
            for ei, ni, ri in zip(e, n, r, strict=True):
                if np.isfinite(ri) and ri > 0:
                    ax.add_patch(
                        Circle((ei, ni), ri, fill=False, ec=color, ls=ls, lw=1.0, alpha=0.8)
                    )
            for ei, ni, name in zip(e, n, _col(sel, "name", "").astype(str), strict=True):
                ax.annotate(
                    _plain(name), (ei, ni), xytext=(4, 4), textcoords="offset points", fontsize=7
                )
            handles.append(Line2D([], [], ls=ls, marker=marker, color=color, ms=8, label=label))

    if has_paths:
        ptypes = _col(paths, "type", "").fillna("").astype(str)
        colors = type_colors(list(ptypes.unique()))
        for ttype, color in colors.items():
            e, n = _polylines(paths[ptypes == ttype])
            ax.plot(e / 1e3, n / 1e3, color=color, lw=0.9, alpha=0.8, zorder=2)
            handles.append(
                Line2D([], [], color=color, lw=1.5, label=_plain(f"path: {ttype or 'threat'}"))
            )

    for sel, marker, color, label in (
        (kills, "x", _KILL_COLOR, "kill"),
        (leaks, "o", _LEAK_COLOR, "leak / impact"),
    ):
        if len(sel) == 0:
            continue
        ok = sel[np.isfinite(sel["e"].astype(float)) & np.isfinite(sel["n"].astype(float))]
        ax.plot(ok["e"] / 1e3, ok["n"] / 1e3, ls="none", marker=marker, color=color, ms=6, zorder=6)
        handles.append(Line2D([], [], ls="none", marker=marker, color=color, label=label))

    # frame the action (sites, paths, kills, leaks), not the 400 km envelope circles
    pts = [np.column_stack([sites["e_m"], sites["n_m"]]).astype(float)] if has_sites else []
    if has_paths:
        pts.append(paths[["e", "n"]].to_numpy(float))
    for sel in (kills, leaks):
        if len(sel):
            pts.append(sel[["e", "n"]].to_numpy(float))
    xy = np.concatenate(pts) / 1e3
    xy = xy[np.isfinite(xy).all(axis=1)]
    if len(xy):
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        half = max(float((hi - lo).max()) * 0.6, 20.0)
        mid = (lo + hi) / 2
        ax.set_xlim(mid[0] - half, mid[0] + half)
        ax.set_ylim(mid[1] - half, mid[1] + half)
    ax.set_aspect("equal", adjustable="box")
    ax.grid(True, lw=0.4, alpha=0.5)
    ax.set_xlabel("east [km]")
    ax.set_ylabel("north [km]")
    ax.set_title("Run 0: sites, threat paths, kills and leaks")
    if handles:
        ax.legend(handles=handles, loc="best", fontsize=7, framealpha=0.85)
    fig.tight_layout()
    return _png(fig)


def timeline_png(events: pd.DataFrame, sites: pd.DataFrame) -> str | None:
    """Engagement timeline of run 0: one row per fire unit (launch ticks, kills, misses) and a
    row of leaks."""
    launches, kills, misses = (_kind(events, k) for k in ("launch", "kill", "miss"))
    leaks = _kind(events, "leak")
    if not (len(launches) or len(kills) or len(misses) or len(leaks)):
        return None
    units: list[str] = []
    if sites is not None and len(sites):
        units = list(
            sites.loc[_col(sites, "kind", "").astype(str) == "fire_unit", "name"].astype(str)
        )
    for sel in (launches, kills, misses):
        units += [u for u in _unit_label(sel).unique() if u and u not in units]
    rows = {u: i for i, u in enumerate(units)}
    leak_row = len(units)

    fig = Figure(figsize=(9.0, 1.2 + 0.45 * (len(units) + 1)))
    ax = fig.add_subplot()
    series = (
        (launches, "|", "#555555", 12, "launch"),
        (kills, "X", "#2ca02c", 8, "kill"),
        (misses, "o", "#ff7f0e", 6, "miss"),
    )
    for sel, marker, color, ms, label in series:
        if len(sel) == 0:
            continue
        y = _unit_label(sel).map(rows).astype(float)
        mfc = "none" if marker == "o" else color
        ax.plot(sel["t"], y, ls="none", marker=marker, color=color, mfc=mfc, ms=ms, label=label)
    if len(leaks):
        ax.plot(
            leaks["t"],
            np.full(len(leaks), leak_row),
            ls="none",
            marker="o",
            color=_LEAK_COLOR,
            ms=6,
            label="leak",
        )
    ax.set_yticks(range(len(units) + 1), [*map(_plain, units), "leaks"])
    ax.set_ylim(len(units) + 0.6, -0.6)
    ax.set_xlabel("time [s]")
    ax.grid(True, axis="x", lw=0.4, alpha=0.5)
    ax.set_title("Run 0: engagements per fire unit")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    return _png(fig)


def leak_by_type_png(summary: pd.DataFrame) -> str | None:
    """Bar chart of the pooled leak rate per threat type with its Wilson interval, plus the
    all-types rate."""
    if summary is None or len(summary) == 0:
        return None
    metric = summary["metric"].astype(str)
    per = summary[metric.str.startswith("leak_rate.")]
    overall = summary[metric == "leak_rate"]
    bars = pd.concat([per, overall])
    bars = bars[np.isfinite(bars["estimate"].astype(float))]
    if len(bars) == 0:
        return None
    labels = [m.removeprefix("leak_rate.") if m != "leak_rate" else "all" for m in bars["metric"]]
    colors = type_colors([x for x in labels if x != "all"])
    est = bars["estimate"].to_numpy(float) * 100
    err = np.vstack(
        [est - bars["lo"].to_numpy(float) * 100, bars["hi"].to_numpy(float) * 100 - est]
    )
    fig = Figure(figsize=(max(4.5, 1.0 + 0.9 * len(labels)), 3.8))
    ax = fig.add_subplot()
    x = np.arange(len(labels))
    ax.bar(x, est, color=[colors.get(lbl, "#444444") for lbl in labels], edgecolor="k", lw=0.5)
    ax.errorbar(x, est, yerr=np.clip(err, 0, None), fmt="none", ecolor="k", capsize=4, lw=1)
    ax.set_xticks(
        x,
        [_plain(lbl) for lbl in labels],
        rotation=20 if len(labels) > 5 else 0,
        ha="right" if len(labels) > 5 else "center",
    )
    ax.set_ylabel("leak rate [%]")
    ax.set_ylim(0, min(100, max(5.0, float(np.nanmax(est + err[1])) * 1.15)))
    ax.set_title("Leak rate by threat type")
    ax.grid(True, axis="y", lw=0.4, alpha=0.5)
    fig.tight_layout()
    return _png(fig)


def magazine_png(magazine: pd.DataFrame, t_end: float | None = None) -> str | None:
    """Step plot of rounds (ready + reserve, solid; ready alone, dotted) per unit and weapon."""
    if magazine is None or len(magazine) == 0:
        return None
    fig = Figure(figsize=(9.0, 4.2))
    ax = fig.add_subplot()
    mag = magazine.assign(
        _u=_col(magazine, "unit_name", "").fillna("").astype(str),
        _w=_col(magazine, "weapon_name", "").fillna("").astype(str),
    )
    t_max = float(mag["t"].max())
    if t_end is not None and np.isfinite(t_end):
        t_max = max(t_max, float(t_end))
    for i, ((unit, weapon), g) in enumerate(mag.groupby(["_u", "_w"], sort=True)):
        g = g.sort_values("t", kind="stable")
        t = np.append(g["t"].to_numpy(float), t_max)
        ready = g["ready"].to_numpy(float)
        total = ready + _col(g, "reserve", 0).fillna(0).to_numpy(float)
        color = _PALETTE[i % len(_PALETTE)]
        ax.step(
            t,
            np.append(total, total[-1]),
            where="post",
            color=color,
            lw=1.5,
            label=_plain(f"{unit} · {weapon}"),
        )
        ax.step(t, np.append(ready, ready[-1]), where="post", color=color, lw=1.0, ls=":")
    ax.set_xlabel("time [s]")
    ax.set_ylabel("rounds")
    ax.set_ylim(bottom=0)
    ax.grid(True, lw=0.4, alpha=0.5)
    ax.set_title("Run 0: magazine (solid: ready + reserve; dotted: ready on launchers)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _int_hist(ax, values: np.ndarray, color: str, xlabel: str) -> None:
    v = values[np.isfinite(values)]
    if v.size == 0:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(xlabel)
        return
    lo, hi = int(np.floor(v.min())), int(np.ceil(v.max()))
    step = max(1, int(np.ceil((hi - lo + 1) / 60)))
    edges = np.arange(lo, hi + step + 1, step) - 0.5
    ax.hist(v, bins=edges, color=color, edgecolor="k", lw=0.4)
    ax.axvline(float(v.mean()), color="k", ls="--", lw=1, label=f"mean {v.mean():.2f}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("runs")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", lw=0.4, alpha=0.5)


def distribution_png(per_run: pd.DataFrame) -> str | None:
    """Histograms over runs of leakers and of interceptors spent."""
    if per_run is None or len(per_run) == 0:
        return None
    fig = Figure(figsize=(9.0, 3.5))
    ax1, ax2 = fig.subplots(1, 2)
    _int_hist(ax1, _col(per_run, "leakers").to_numpy(float), _LEAK_COLOR, "leakers per run")
    _int_hist(
        ax2,
        _col(per_run, "interceptors_spent").to_numpy(float),
        _UNIT_COLOR,
        "interceptors spent per run",
    )
    fig.suptitle(f"Distribution over {len(per_run)} runs")
    fig.tight_layout()
    return _png(fig)
