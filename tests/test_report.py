"""The HTML report: self-contained, escaped, complete and reproducible."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest

from iadsim.events import COLUMNS
from iadsim.report import ReportData, render_html, write_report
from iadsim.report.html import format_summary
from iadsim.stats import summarize


def _per_run(runs: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    cruise = np.full(runs, 6)
    drone = np.full(runs, 8)
    lc = rng.binomial(cruise, 0.1)
    ld = rng.binomial(drone, 0.2)
    leakers = lc + ld
    kills = cruise + drone - leakers
    spent = kills + rng.integers(0, 4, runs)
    return pd.DataFrame(
        {
            "run": np.arange(runs),
            "threats": cruise + drone,
            "leakers": leakers,
            "kills": kills,
            "interceptors_spent": spent,
            "interceptor_cost_usd": spent * 1.2e6,
            "threat_cost_destroyed_usd": kills * 0.4e6,
            "cost_exchange": spent * 1.2e6 / (kills * 0.4e6),
            "assets_hit": (leakers > 0).astype(int),
            "asset_value_lost": (leakers > 0) * 25e6,
            "first_leak_s": np.where(leakers > 0, rng.uniform(100, 300, runs), np.nan),
            "threats.cruise": cruise,
            "threats.drone": drone,
            "leakers.cruise": lc,
            "leakers.drone": ld,
            "kills.Battery A": kills - kills // 2,
            "kills.Battery B": kills // 2,
            "spent.sam": spent,
            "hit.airbase": (leakers > 0).astype(int),
        }
    )


def _events() -> pd.DataFrame:
    rows = [
        # t, kind, threat, track, unit, weapon, asset, value, e, n, u, unit_name, weapon_name, type
        (0.0, "threat_launch", 0, -1, -1, -1, -1, np.nan, 40e3, 40e3, 100, "", "", "cruise"),
        (0.0, "threat_launch", 1, -1, -1, -1, -1, np.nan, 40e3, -30e3, 100, "", "", "drone"),
        (50.0, "launch", 0, 3, 0, 0, -1, 20.0, np.nan, np.nan, np.nan, "Battery A", "sam", ""),
        (52.0, "launch", 1, 4, 1, 0, -1, 18.0, np.nan, np.nan, np.nan, "Battery B", "sam", ""),
        (70.0, "kill", 0, 3, 0, 0, -1, 0.8, 20e3, 21e3, 90, "Battery A", "sam", "cruise"),
        (70.0, "miss", 1, 4, 1, 0, -1, 0.7, 22e3, -15e3, 90, "Battery B", "sam", "drone"),
        (140.0, "leak", 1, -1, -1, -1, 0, np.nan, 1e3, 0.5e3, 0, "", "", "drone"),
        (140.0, "asset_hit", 1, -1, -1, -1, 0, np.nan, 1e3, 0.5e3, 0, "", "", "drone"),
    ]
    cols = [*COLUMNS, "unit_name", "weapon_name", "threat_type"]
    return pd.DataFrame(rows, columns=cols)


def _paths() -> pd.DataFrame:
    t = np.arange(0, 141, 10.0)
    a = pd.DataFrame({"t": t[:8], "threat": 0, "type": "cruise"})
    a["e"], a["n"] = 40e3 - 2.7e3 * a["t"] / 10, 40e3 - 2.7e3 * a["t"] / 10
    b = pd.DataFrame({"t": t, "threat": 1, "type": "drone"})
    b["e"], b["n"] = 40e3 - 2.8e3 * b["t"] / 10, -30e3 + 2.1e3 * b["t"] / 10
    out = pd.concat([a, b], ignore_index=True)
    out["u"] = 100.0
    return out


def _data(**over) -> ReportData:
    per_run = _per_run()
    data = ReportData(
        title="Layered defence <script>alert(1)</script>",
        scenario_name="layered & co",
        scenario_text="name: layered\nthreats:\n  - type: cruise  # <b>not bold</b>\n",
        runs=len(per_run),
        seed=7,
        per_run=per_run,
        summary=summarize(per_run),
        sites=pd.DataFrame(
            {
                "name": ["Battery A", "Battery B", "Radar 1", "airbase"],
                "kind": ["fire_unit", "fire_unit", "sensor", "asset"],
                "type": ["sam_long", "sam_short", "search_radar", "airbase"],
                "e_m": [0.0, 5e3, -3e3, 1e3],
                "n_m": [0.0, -4e3, 2e3, 0.5e3],
                "radius_m": [40e3, 15e3, 80e3, 2e3],
            }
        ),
        paths=_paths(),
        events=_events(),
        magazine=pd.DataFrame(
            {
                "t": [0.0, 0.0, 50.0, 52.0, 200.0],
                "unit_name": ["Battery A", "Battery B", "Battery A", "Battery B", "Battery A"],
                "weapon_name": ["sam", "sam", "sam", "sam", "sam"],
                "ready": [4, 4, 3, 3, 4],
                "reserve": [8, 4, 8, 4, 7],
            }
        ),
        assumptions=pd.DataFrame(
            {
                "entry": ["sam_long", "drone", "Radar 1"],
                "param": ["pk", "rcs_m2", "clutter_per_scan"],
                "value": [0.8, 0.01, 2.0],
                "unit": ["", "m^2", "1/scan"],
                "note": ["nominal single-shot Pk; no public figure", "guess <small>", "assumed"],
            }
        ),
        versions={"iadsim": "0.1.0", "python": "3.11.2", "numpy": np.__version__},
    )
    return dataclasses.replace(data, **over)


def test_report_is_self_contained_and_complete(tmp_path):
    out = write_report(tmp_path / "sub" / "report.html", _data())
    assert out == tmp_path / "sub" / "report.html"
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # no temp file left
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert "@import" not in text and "url(" not in text
    assert text.count("data:image/png;base64,") >= 5
    for sid in ("results", "map", "timeline", "leakers", "magazine", "distribution"):
        assert f'id="{sid}"' in text
    assert len(text) < 2_000_000


def test_report_lists_every_assumption(tmp_path):
    data = _data()
    text = write_report(tmp_path / "r.html", data).read_text(encoding="utf-8")
    section = text[text.index('id="assumptions"') :]
    rows = re.findall(r"<tr><td", section)
    assert len(rows) == len(data.assumptions)
    for r in data.assumptions.itertuples():
        assert f"<td>{r.entry}</td><td>{r.param}</td>" in section
    assert "guess &lt;small&gt;" in section
    assert "1/scan" in section and "m^2" in section


def test_report_escapes_text(tmp_path):
    text = write_report(tmp_path / "r.html", _data()).read_text(encoding="utf-8")
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "layered &amp; co" in text
    assert "<b>not bold</b>" not in text and "&lt;b&gt;not bold&lt;/b&gt;" in text
    assert "<details>" in text  # scenario YAML collapsed


def test_report_is_reproducible(tmp_path):
    a = write_report(tmp_path / "a.html", _data()).read_bytes()
    b = write_report(tmp_path / "b.html", _data()).read_bytes()
    assert a == b
    assert b"0.1.0" in a and b"3.11.2" in a


def test_results_table_readable_units():
    f = format_summary(_data().summary).set_index("metric")
    assert f.loc["leak_rate", "unit"] == "%"
    assert f.loc["interceptor_cost_usd", "unit"] == "US$ M"
    rate = _data().summary.set_index("metric").loc["leak_rate", "estimate"]
    assert f.loc["leak_rate", "estimate"] == f"{rate * 100:.1f}"
    spent = _data().per_run["interceptors_spent"].mean() * 1.2
    assert f.loc["interceptor_cost_usd", "estimate"] == f"{spent:,.2f}"


@pytest.mark.parametrize(
    "over",
    [
        {"events": pd.DataFrame(), "paths": pd.DataFrame(), "magazine": pd.DataFrame()},
        {
            "events": _events().iloc[:0],
            "paths": _paths().iloc[:0],
            "magazine": pd.DataFrame(columns=["t", "unit_name", "weapon_name", "ready", "reserve"]),
            "assumptions": pd.DataFrame(columns=["entry", "param", "value", "unit", "note"]),
            "sites": pd.DataFrame(),
        },
    ],
)
def test_report_handles_empty_inputs(tmp_path, over):
    text = write_report(tmp_path / "r.html", _data(**over)).read_text(encoding="utf-8")
    assert "No launches, kills, misses or leaks in run 0." in text
    assert "No magazine record for run 0." in text
    assert text.count("data:image/png;base64,") >= 2  # leak-by-type and distribution


def test_report_without_kills_or_leaks(tmp_path):
    per_run = _per_run().assign(leakers=0, **{"leakers.cruise": 0, "leakers.drone": 0})
    per_run["first_leak_s"] = np.nan
    ev = _events()
    ev = ev[ev["kind"].isin(["threat_launch", "launch", "miss"])]
    data = _data(per_run=per_run, summary=summarize(per_run), events=ev)
    text = render_html(data)
    assert text.count("data:image/png;base64,") >= 5
