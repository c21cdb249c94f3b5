"""``iadsim report STORE``: the HTML report of a campaign store and its saturation estimate.

A 2 x 2 campaign (raid size x salvo size, 3 runs each, in-process) of a tiny scenario is stored
and reported: the file exists, embeds >= 2 PNGs, lists every design point, escapes text and
references nothing external; a missing or foreign store exits 2. The saturation arithmetic is
checked on a hand-made table.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from campaign_common import ENV, TINY
from iadsim.cli_campaign import campaign
from iadsim.cli_report import report
from iadsim.report.campaign import crossing, load_campaign, render_campaign_html, saturation


def _app(fn) -> typer.Typer:
    app = typer.Typer()
    app.command()(fn)
    return app


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("campaign")
    (d / "tiny.yaml").write_text(TINY.replace("name: tiny\n", "name: tiny <report> & co\n"),
                                 encoding="utf-8")
    db = d / "tiny.duckdb"
    res = CliRunner().invoke(_app(campaign), [
        str(d / "tiny.yaml"), "--runs", "3", "--sweep", "raids[0].count=2,4",
        "--sweep", "doctrine.salvo_size=1,2", "--workers", "1", "--store", str(db)], env=ENV)
    assert res.exit_code == 0, res.output
    return db


def test_report_html(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "r" / "report.html"
    res = CliRunner().invoke(_app(report), [str(store), "--out", str(out)], env=ENV)
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") >= 2
    assert not re.search(r"(src|href)=\"https?:", text)
    assert "http://" not in text and "https://" not in text
    # the scenario name is escaped, never raw markup
    assert "tiny &lt;report&gt; &amp; co" in text and "<report>" not in text
    rows = re.findall(r"<tr><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td><td class=num>3</td>",
                      text)
    assert sorted(rows) == [("0", "2", "1"), ("1", "2", "2"), ("2", "4", "1"), ("3", "4", "2")]
    for path in ("raids[0].count", "doctrine.salvo_size"):
        assert f"<h3>{path}</h3>" in text
    assert "Saturation" in text and "raids[0].count" in text
    assert not list(out.parent.glob(".*.tmp"))


def test_report_default_out(store: Path) -> None:
    res = CliRunner().invoke(_app(report), [str(store), "--saturation-leakers", "0.5"], env=ENV)
    assert res.exit_code == 0, res.output
    assert store.with_suffix(".html").is_file()


def test_load_campaign_table(store: Path) -> None:
    rep = load_campaign(store)
    t = rep.table
    assert len(t) == 4 and list(t["runs"]) == [3, 3, 3, 3]
    assert ((t["leak_rate_lo"] <= t["leak_rate"]) & (t["leak_rate"] <= t["leak_rate_hi"])).all()
    assert ((t["spent_lo"] <= t["spent"] + 1e-12) & (t["spent"] <= t["spent_hi"] + 1e-12)).all()
    assert len(rep.saturations) == 2  # one per salvo size
    assert "<html" in render_campaign_html(rep)


def test_missing_and_foreign_store(tmp_path: Path) -> None:
    res = CliRunner().invoke(_app(report), [str(tmp_path / "nope.duckdb")], env=ENV)
    assert res.exit_code == 2
    assert "no such store" in res.output
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    res = CliRunner().invoke(_app(report), [str(other)], env=ENV)
    assert res.exit_code == 2
    assert "not an iadsim campaign store" in res.output
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database", encoding="utf-8")
    assert CliRunner().invoke(_app(report), [str(junk)], env=ENV).exit_code == 2


def test_crossing() -> None:
    x = np.array([10.0, 20.0, 30.0])
    assert crossing(x, np.array([0.0, 0.5, 1.5]), 1.0) == pytest.approx(25.0)
    assert crossing(x, np.array([2.0, 3.0, 4.0]), 1.0) == 10.0
    assert crossing(x, np.array([0.0, 0.2, 0.4]), 1.0) is None


def test_saturation_method() -> None:
    t = pd.DataFrame({"raids[0].count": [10, 20, 30, 40],
                      "leakers": [0.0, 0.5, 1.5, 3.0],
                      "leakers_lo": [0.0, 0.1, 0.9, 2.0],
                      "leakers_hi": [0.2, 1.1, 2.1, 4.0]})
    (s,) = saturation(t, ["raids[0].count"], 1.0)
    assert s.at == 30.0
    assert s.interpolated == pytest.approx(25.0)
    assert s.lo == pytest.approx(10 + 0.8 / 0.9 * 10)  # upper bounds: 0.2 -> 1.1
    assert s.hi == pytest.approx(30 + 0.1 / 1.1 * 10)  # lower bounds: 0.9 -> 2.0
    assert s.lo <= s.interpolated <= s.hi
    (never,) = saturation(t.assign(leakers=0.1, leakers_lo=0.0, leakers_hi=0.5),
                          ["raids[0].count"], 1.0)
    assert never.at is None and never.hi is None and never.lo is None


def test_paired_differences_use_the_same_runs() -> None:
    from scipy import stats as st

    from iadsim.report.paired import paired_table

    rng = np.random.default_rng(0)
    n = 40
    base = rng.poisson(5.0, n).astype(float)  # common part of both points' leakers
    other = base + rng.choice([0.0, 1.0, 2.0], n)
    per_run = pd.DataFrame({
        "point": [0] * n + [1] * n, "run": list(range(n)) * 2,
        "leakers": np.r_[base, other], "threats": 10.0, "interceptors_spent": 3.0})
    t = paired_table(per_run).set_index("metric")
    d = other - base
    half = st.t.ppf(0.975, n - 1) * d.std(ddof=1) / np.sqrt(n)
    row = t.loc["leakers"]
    assert row["n"] == n and np.isclose(row["diff"], d.mean())
    assert np.isclose(row["lo"], d.mean() - half) and np.isclose(row["hi"], d.mean() + half)
    assert row["vrf"] > 2  # strongly correlated runs: pairing pays
    assert np.isclose(t.loc["leak_fraction", "diff"], d.mean() / 10)
    # a run stored for one point only is not paired
    assert paired_table(per_run.drop(index=n)).set_index("metric").loc["leakers", "n"] == n - 1


def test_report_has_paired_section(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = CliRunner().invoke(_app(report), [str(store), "--out", str(out)], env=ENV)
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert "Paired differences (common random numbers)" in text and "95% (paired t)" in text
