"""Campaign designs beyond the grid: Latin hypercube, sampled catalog uncertainty, --until-ci.

(a) ``--design lhs``: deterministic, one point per stratum of each interval, integer and
categorical sweeps, the design kept in the store (resume refuses another one); (b)
``--sample-uncertain``: draws in range, triangular around the catalog value, a function of
(seed, run, name) only (common random numbers across design points), stored per run; (c)
``--until-ci``: the stop is decided on a deterministic prefix, the same stored table in any
completion order, on 1 worker or a 2-process cluster, and across a resume; (d) bad input exits
2 with one clear message and writes nothing; (e) the report of a scattered design.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import duckdb
import numpy as np
import pytest
import yaml

from campaign_common import TINY
from campaign_common import cli as _cli
from campaign_common import table as _table
from iadsim.distributed import UntilCI, execute
from iadsim.report.campaign import load_campaign, render_campaign_html
from iadsim.scenario import parse_scenario
from iadsim.store import Store
from iadsim.sweep import SweepError, design
from iadsim.uncertain import Uncertain, UncertainError, draw, select

LHS = ["--design", "lhs", "--samples", "4", "--sweep", "raids[0].count=2:9",
       "--sweep", "doctrine.salvo_size=1,2"]


def test_lhs_is_stratified_and_deterministic():
    data = yaml.safe_load(TINY)
    opts = ["raids[0].count=1:40", r"overrides.9m338k\.pk_uav=0.2:0.9",
            "doctrine.priority=value,time"]
    sweeps, points = design(opts, data, "lhs", 40, seed=7)
    assert design(opts, data, "lhs", 40, seed=7)[1] == points
    assert design(opts, data, "lhs", 40, seed=8)[1] != points
    counts = [p["raids[0].count"] for p in points]
    assert sorted(counts) == list(range(1, 41))  # 40 integers in 40 strata: each once
    pk = np.array([p[r"overrides.9m338k\.pk_uav"] for p in points])
    strata = np.floor((pk - 0.2) / 0.7 * 40).astype(int)
    assert sorted(strata) == list(range(40))
    levels = [p["doctrine.priority"] for p in points]
    assert levels.count("value") == levels.count("time") == 20
    assert sweeps[0].spec() == {"path": "raids[0].count", "low": 1, "high": 40,
                                "integer": True}


@pytest.mark.parametrize(("kind", "opts", "samples", "message"), [
    ("lhs", ["raids[0].count=2:9:1"], 4, "no step"),
    ("lhs", ["raids[0].count=2.5:9"], 4, "integer bounds"),
    ("lhs", ["doctrine.priority=0:1"], 4, "give a list of levels"),
    ("lhs", ["raids[0].count=2:9"], None, "needs --samples"),
    ("lhs", [], 4, "at least one --sweep"),
    ("grid", ["raids[0].count=2:9"], 4, "--samples is for --design lhs"),
    ("grid", ["raids[0].count=2:9"], None, "an interval a:b is for --design lhs"),
    ("grid", ["raids[0].cont=2"], None, "valid: "),
    ("sobol", [], None, "valid designs: grid, lhs"),
])
def test_bad_designs_name_the_problem(kind, opts, samples, message):
    with pytest.raises(SweepError) as exc:
        design(opts, yaml.safe_load(TINY), kind, samples, 1)
    assert message in str(exc.value)


def test_lhs_campaign_store_and_resume(tiny: Path, tmp_path: Path):
    store = tmp_path / "lhs.duckdb"
    res = _cli(str(tiny), *LHS, "--runs", "2", "--workers", "1", "--store", str(store))
    assert res.exit_code == 0, res.output
    with Store.open(store) as db:
        assert db.design["kind"] == "lhs" and db.design["samples"] == 4
        assert len(db.points) == 4 and sum(db.counts().values()) == 8
    other = [a if a != "4" else "5" for a in LHS]
    res = _cli(str(tiny), *other, "--runs", "2", "--workers", "1", "--store", str(store),
               "--resume")
    assert res.exit_code == 2 and "cannot resume" in res.output and "samples" in res.output
    res = _cli(str(tiny), *LHS, "--runs", "3", "--workers", "1", "--store", str(store),
               "--resume")
    assert res.exit_code == 0 and "8 stored, 4 to run" in res.output

    rep = load_campaign(store)
    assert rep.scattered and set(rep.binned) == {"raids[0].count", "doctrine.salvo_size"}
    b = rep.binned["raids[0].count"]
    assert b["points"].sum() == 4 and b["runs"].sum() == 12
    assert (b["leak_rate_lo"] <= b["leak_rate"] + 1e-12).all()
    text = render_campaign_html(rep)
    assert text.count("data:image/png;base64,") == 2 and "Latin hypercube of 4 points" in text
    assert "binned, averaged over the others" in text


# -- (b) sampled uncertainty -----------------------------------------------------------------

def test_triangular_draws():
    u = Uncertain(name="x.pk_uav", value=0.7, low=0.4, high=0.9, unit="probability")
    xs = np.array([draw([u], 5, r)["x.pk_uav"] for r in range(4000)])
    assert xs.min() >= 0.4 and xs.max() <= 0.9
    assert xs.mean() == pytest.approx((0.4 + 0.7 + 0.9) / 3, abs=0.01)
    # the mode is the catalog value: the density peaks in the bin around 0.7
    hist, edges = np.histogram(xs, bins=10, range=(0.4, 0.9))
    assert 0.6 <= edges[np.argmax(hist)] <= 0.7
    n = Uncertain(name="x.channels", value=2, low=1, high=4, unit="count")
    assert {draw([n], 5, r)["x.channels"] for r in range(200)} == {1.0, 2.0, 3.0, 4.0}


def test_draws_depend_on_seed_run_and_name_only():
    a = Uncertain(name="a.p", value=1.0, low=0.0, high=2.0, unit="m")
    b = Uncertain(name="b.p", value=1.0, low=0.0, high=2.0, unit="m")
    assert draw([a, b], 3, 7)["a.p"] == draw([a], 3, 7)["a.p"]  # whatever else is sampled
    assert draw([a], 3, 7) != draw([a], 3, 8) and draw([a], 3, 7) != draw([a], 4, 7)
    assert draw([a, b], 3, 7)["a.p"] != draw([a, b], 3, 7)["b.p"]


def test_select_and_its_errors():
    data = yaml.safe_load(TINY)
    sc = parse_scenario(data, "tiny")
    names = [u.name for u in select([sc])]
    assert "9m338k.pk_uav" in names and "shahed-136.cost_usd" in names
    assert not any(".mix_" in n for n in names)  # magazine fractions are never drawn
    assert "9m338k.pk_aircraft" not in names  # no aircraft in the raid: no effect
    fixed = parse_scenario({**data, "overrides": {"9m338k.pk_uav": 0.5}}, "tiny")
    assert "9m338k.pk_uav" not in [u.name for u in select([fixed])]
    for name, why in (("9m338k.pk_drone", "no such catalog parameter"),
                      ("9m338k.pk_aircraft", "never uses it"),
                      ("tor-m2k.launchers", "no spread")):
        with pytest.raises(UncertainError, match=why) as exc:
            select([sc], [name])
        assert "valid: " in str(exc.value) and "9m338k.pk_uav" in str(exc.value)
    with pytest.raises(UncertainError, match="fixed by the scenario's overrides or a --sweep"):
        select([fixed], ["9m338k.pk_uav"])


def test_uncertain_values_are_stored_and_common_to_design_points(tiny: Path, tmp_path: Path):
    store = tmp_path / "u.duckdb"
    res = _cli(str(tiny), "--runs", "3", "--sweep", "doctrine.salvo_size=1,2", "--uncertain",
               "9m338k.pk_uav", "--uncertain", "tor-m2k.reaction_time_s", "--workers", "1",
               "--store", str(store))
    assert res.exit_code == 0, res.output
    assert "drawing 2 uncertain catalog parameter(s)" in res.output
    with Store.open(store) as db:
        df = db.per_run()
        spec = db.design["uncertain"]
    assert [p["name"] for p in spec["params"]] == ["9m338k.pk_uav", "tor-m2k.reaction_time_s"]
    col = "uncertain.9m338k.pk_uav"
    a, b = df[df.point == 0].set_index("run"), df[df.point == 1].set_index("run")
    assert (a[col] == b[col]).all() and a[col].nunique() == 3  # same draw for run r
    assert df[col].between(0.4, 0.9).all()
    rep = load_campaign(store)
    assert list(rep.uncertain["name"]) != [] and "Sampled parameter uncertainty" in (
        render_campaign_html(rep))


# -- (c) --until-ci --------------------------------------------------------------------------

def _rows(runs, leak: float, threats: int = 50, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [{"run": r, "threats": threats,
             "leakers": sum(rng.random() < leak for _ in range(threats))} for r in runs]


def test_until_ci_decides_on_the_prefix_whatever_the_order():
    rows = _rows(range(200), 0.3)
    stops = set()
    for order in range(5):
        rule, got = UntilCI(0.02, runs=200, block=10), list(rows)
        random.Random(order).shuffle(got)
        stop = None
        for i in range(0, 200, 7):
            stop = rule.add(0, got[i:i + 7])
            if stop is not None:
                break
        stops.add(stop)
    (stop,) = stops
    assert stop % 10 == 0 and 10 < stop < 200
    k = sum(r["leakers"] for r in rows[:stop])
    assert UntilCI.half_width(k, 50 * stop) <= 0.02
    k = sum(r["leakers"] for r in rows[:stop - 10])
    assert UntilCI.half_width(k, 50 * (stop - 10)) > 0.02
    # never met: the point stops at --runs
    rule = UntilCI(0.001, runs=25, block=10)
    assert rule.add(0, _rows(range(25), 0.3)) == 25
    with pytest.raises(ValueError, match=r"\(0, 0.5\)"):
        UntilCI(0.5, runs=10)


def test_until_ci_same_table_in_process_and_on_a_cluster(tiny: Path, tmp_path: Path):
    """The stored runs under --until-ci (with a sampled parameter) are the same with 1
    in-process worker and a 2-process LocalCluster with other batch sizes; a resume after an
    interruption agrees too."""
    args = [str(tiny), "--runs", "60", "--sweep", "raids[0].count=2,6", "--until-ci", "0.12",
            "--uncertain", "9m338k.pk_uav"]
    one, two = tmp_path / "one.duckdb", tmp_path / "two.duckdb"
    res = _cli(*args, "--workers", "1", "--store", str(one))
    assert res.exit_code == 0, res.output
    counts = Store.open(one).counts()
    Store.open(one).close()
    assert all(n % 10 == 0 and n < 60 for n in counts.values()), counts
    res = _cli(*args, "--workers", "2", "--batch-size", "3", "--store", str(two))
    assert res.exit_code == 0, res.output
    assert _table(one) == _table(two)

    # interrupted after 2 batches of 7 (runs 0-13 of point 0), then resumed
    part = tmp_path / "part.duckdb"
    data = yaml.safe_load(TINY)
    _, points = design(["raids[0].count=2,6"], data)
    res = _cli(*args, "--workers", "1", "--store", str(part), "--runs", "1")
    db = Store.open(part)
    db.con.execute("DELETE FROM runs")
    seen = []

    def sink(point: int, rows: list[dict]) -> None:
        if len(seen) == 2:
            raise KeyboardInterrupt
        db.add(point, rows)
        seen.append(point)

    from iadsim.sweep import apply_point

    scenarios = [apply_point(data, p) for p in points]
    drawn = select(scenarios, ["9m338k.pk_uav"])
    with pytest.raises(KeyboardInterrupt):
        execute(scenarios, 3, {0: list(range(60)), 1: list(range(60))}, sink, workers=1,
                batch_size=7, uncertain=drawn)
    db.close()
    res = _cli(*args, "--workers", "1", "--store", str(part), "--resume")
    assert res.exit_code == 0, res.output
    assert _table(part) == _table(one)


# -- (d) bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["--samples", "4", "--sweep", "raids[0].count=2,4"], "--samples is for --design lhs"),
    (["--design", "sobol"], "valid designs: grid, lhs"),
    (["--until-ci", "0.5"], "must be in (0, 0.5)"),
    (["--until-ci", "0"], "must be in (0, 0.5)"),
    (["--uncertain", "tor-m2k.launchers"], "no spread"),
    (["--uncertain", "9m338k.pk_drone"], "valid: "),
    (["--sweep", "raids[0].cout=2,4"], "did you mean 'count'"),
    (["--sweep", r"overrides.9m338k\.pk_uav=0.5,0.6", "--uncertain", "9m338k.pk_uav"],
     "fixed by"),
])
def test_bad_input_exits_2_and_writes_nothing(tiny: Path, tmp_path: Path, args, message):
    store = tmp_path / "bad.duckdb"
    res = _cli(str(tiny), "--workers", "1", "--store", str(store), *args)
    assert res.exit_code == 2, res.output
    assert message in res.output and res.output.count("error:") == 1
    assert not store.exists()


def test_format_1_design_is_read_as_a_grid(tiny: Path, tmp_path: Path):
    store = tmp_path / "old.duckdb"
    assert _cli(str(tiny), "--runs", "1", "--workers", "1", "--store", str(store)).exit_code == 0
    con = duckdb.connect(str(store))
    con.execute("UPDATE campaign SET format = 1, design = ?", [json.dumps([])])
    con.close()
    with Store.open(store) as db:
        assert db.design == {"kind": "grid", "sweeps": []}
    assert math.isfinite(load_campaign(store).table["leak_rate"].iloc[0])
