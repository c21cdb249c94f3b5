"""Campaigns at scale: sweeps, the DuckDB store, Dask execution, resume after interruption.

(a) ``--sweep`` parsing: ranges, lists, list indices, quoted keys, bad paths naming the valid
fields, bad values raising ``ScenarioError``; (b) determinism: the same campaign in-process and
on a 2-worker ``LocalCluster`` stores identical per-run tables; (c) resume: a campaign stopped
after a few batches (a sink that raises, or ``kill -9`` of the CLI) and resumed equals an
uninterrupted one, without duplicates; (d) a store of another campaign, an existing store
without ``--resume`` and a corrupt file are refused with a clear message.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pytest
import yaml

from campaign_common import ROOT, TINY
from campaign_common import cli as _cli
from campaign_common import table as _table
from iadsim.compile import compile_scenario
from iadsim.distributed import batches, execute
from iadsim.scenario import ScenarioError
from iadsim.store import Store, StoreError
from iadsim.sweep import SweepError, apply_point, design, parse_path, parse_spec

SWEEPS = ["raids[0].count=2:4:2", "doctrine.salvo_size=1,2"]


def test_paths_and_specs():
    assert parse_path("raids[0].count") == ("raids", 0, "count")
    assert parse_path(r"overrides.48n6\.pk_aircraft") == ("overrides", "48n6.pk_aircraft")
    assert parse_path("overrides['48n6.pk_aircraft']") == ("overrides", "48n6.pk_aircraft")
    assert parse_spec("10:40:10") == (10, 20, 30, 40)
    assert parse_spec("10:45:10") == (10, 20, 30, 40)  # 45 is off the grid
    assert parse_spec("0.1:0.3:0.1") == (0.1, 0.2, 0.3)
    assert parse_spec("1,2.5,time") == (1, 2.5, "time")
    for bad in ("1:2:0", "5:1:1", "1:2", "1,1"):
        with pytest.raises(SweepError):
            parse_spec(bad)


def test_design_is_a_cross_product_in_order():
    data = yaml.safe_load(TINY)
    sweeps, points = design([*SWEEPS, r"overrides.9m338k\.pk_uav=0.5,0.9"], data)
    assert len(points) == 8 and [s.path for s in sweeps][0] == "raids[0].count"
    assert points[0] == {"raids[0].count": 2, "doctrine.salvo_size": 1,
                         r"overrides.9m338k\.pk_uav": 0.5}
    assert points[1][r"overrides.9m338k\.pk_uav"] == 0.9  # the last sweep varies fastest
    assert points[-1] == {"raids[0].count": 4, "doctrine.salvo_size": 2,
                          r"overrides.9m338k\.pk_uav": 0.9}
    sc = apply_point(data, points[-1])  # doctrine and overrides are absent from the file
    assert (sc.raids[0].count, sc.doctrine.salvo_size) == (4, 2)
    assert sc.overrides == {"9m338k.pk_uav": 0.9}
    assert data["raids"][0]["count"] == 4 and "doctrine" not in data  # input untouched
    assert design([], data)[1] == [{}]


@pytest.mark.parametrize(("option", "message"), [
    ("raids[0].cont=1", "did you mean 'count'"),
    ("doctrin.salvo_size=1", "valid: assets, description, doctrine"),
    ("raids[0].launch.lat=1", "valid: lat_deg, lon_deg, radius_km"),
    ("raids[3].count=1", "out of range"),
    ("raids.count=1", "index it as raids[0]"),
    ("doctrine=1", "not a single value"),
    ("seed=1,2", "cannot be swept"),
    ("raids[0].count", "PATH=SPEC"),
])
def test_bad_sweeps_name_the_problem(option: str, message: str):
    with pytest.raises(SweepError, match=None) as exc:
        design([option], yaml.safe_load(TINY))
    assert message in str(exc.value)


def test_bad_value_is_a_scenario_error():
    data = yaml.safe_load(TINY)
    _, points = design(["doctrine.salvo_size=1,0"], data)
    apply_point(data, points[0])
    with pytest.raises(ScenarioError, match="salvo_size"):
        apply_point(data, points[1])
    _, points = design([r"overrides.9m338k\.pk_drone=0.5"], data)
    with pytest.raises(ScenarioError, match="has no parameter .pk_drone."):
        apply_point(data, points[0])


def test_cli_rejects_bad_sweep_before_creating_the_store(tiny: Path, tmp_path: Path):
    store = tmp_path / "x.duckdb"
    res = _cli(str(tiny), "--sweep", "doctrine.salvo_size=1,9", "--store", str(store))
    assert res.exit_code == 2 and "salvo_size" in res.output
    assert not store.exists()


# -- (b) determinism -------------------------------------------------------------------------

def _params(points_options: list[str]):
    data = yaml.safe_load(TINY)
    _, points = design(points_options, data)
    return points, [compile_scenario(apply_point(data, p)) for p in points]


def _collect(workers: int, runs: int = 6, batch_size: int | None = None) -> dict:
    points, params = _params(SWEEPS)
    got: dict = {}

    def sink(point: int, rows: list[dict]) -> None:
        for r in rows:
            assert (point, r["run"]) not in got
            got[point, r["run"]] = r

    todo = {i: list(range(runs)) for i in range(len(points))}
    execute(params, 3, todo, sink, workers=workers, batch_size=batch_size)
    return got


def test_same_tables_on_one_and_two_workers(tmp_path: Path):
    one = _collect(workers=1)
    two = _collect(workers=2, batch_size=2)  # a LocalCluster of 2 processes
    assert len(one) == 4 * 6 and sorted(one) == sorted(two)
    assert all(str(one[k]) == str(two[k]) for k in one)  # str: NaN == NaN
    # common random numbers: run r sees the same launches on every design point
    assert one[0, 1]["threats"] == 2 and one[2, 1]["threats"] == 4


def test_batches_stay_within_a_point():
    work = batches({0: [0, 1, 2, 3, 4], 1: [2, 3]}, workers=1, batch_size=2)
    assert work == [(0, [0, 1]), (0, [2, 3]), (0, [4]), (1, [2, 3])]


# -- (c) resume ------------------------------------------------------------------------------

def test_resume_after_interruption_equals_uninterrupted(tiny: Path, tmp_path: Path):
    full, part = tmp_path / "full.duckdb", tmp_path / "part.duckdb"
    args = ["--runs", "5", "--sweep", SWEEPS[0], "--sweep", SWEEPS[1], "--workers", "1",
            "--batch-size", "2"]
    res = _cli(str(tiny), *args, "--store", str(full))
    assert res.exit_code == 0, res.output
    assert "leak_rate" in res.output and "0 stored, 20 to run" in res.output

    # a campaign stopped after 3 batches, as Ctrl-C would (the store stays consistent)
    import iadsim

    text = tiny.read_text(encoding="utf-8")
    points, params = _params(SWEEPS)
    spec = [{"path": p, "values": v} for p, v in (("raids[0].count", [2, 4]),
                                                  ("doctrine.salvo_size", [1, 2]))]
    db = Store.create(part, scenario_name="tiny", scenario_text=text,
                      version=iadsim.__version__, seed=3, runs=5, design=spec, points=points)
    seen = []

    def sink(point: int, rows: list[dict]) -> None:
        if len(seen) == 3:
            raise KeyboardInterrupt
        db.add(point, rows)
        seen.append(point)

    with pytest.raises(KeyboardInterrupt):
        execute(params, 3, {i: list(range(5)) for i in range(4)}, sink, workers=1,
                batch_size=2)
    db.add(0, [{**_table_row(full, 0, 0), "run": 0}])  # a duplicate is ignored
    db.close()
    assert len(_table(part)) == 5  # point 0: [0, 1], [2, 3], [4]

    res = _cli(str(tiny), *args, "--store", str(part))
    assert res.exit_code == 2 and "--resume" in res.output  # no overwrite without --resume
    res = _cli(str(tiny), *args, "--store", str(part), "--resume")
    assert res.exit_code == 0, res.output
    assert "5 stored, 15 to run" in res.output
    assert _table(part) == _table(full)

    # resuming a finished campaign with more runs extends it
    res = _cli(str(tiny), *args, "--store", str(part), "--resume", "--runs", "6")
    assert res.exit_code == 0 and "20 stored, 4 to run" in res.output

    out = Store.open(part).export_parquet(tmp_path / "export")
    import pandas as pd

    df = pd.read_parquet(out[0])
    assert len(df) == 24 and {"point", "raids[0].count", "doctrine.salvo_size", "leakers",
                              "kills.tor-1"} <= set(df.columns)


def _table_row(path: Path, point: int, run: int) -> dict:
    import json

    row = [m for p, r, m in _table(path) if (p, r) == (point, run)]
    return json.loads(row[0])


def test_another_campaign_or_a_corrupt_file_is_refused(tiny: Path, tmp_path: Path):
    store = tmp_path / "s.duckdb"
    assert _cli(str(tiny), "--runs", "2", "--workers", "1", "--store", str(store)).exit_code == 0
    other = tmp_path / "other.yaml"
    other.write_text(TINY.replace("count: 4", "count: 3"), encoding="utf-8")
    for args, why in (([str(other)], "scenario file changed"),
                      ([str(tiny), "--seed", "9"], "seed 3 in the store, 9 now"),
                      ([str(tiny), "--sweep", "raids[0].count=1,2"], "design")):
        res = _cli(*args, "--runs", "2", "--workers", "1", "--store", str(store), "--resume")
        assert res.exit_code == 2 and "cannot resume" in res.output and why in res.output
    # a comment and a blank line are not another scenario
    same = tmp_path / "same.yaml"
    same.write_text("# annotated\n\n" + TINY, encoding="utf-8")
    res = _cli(str(same), "--runs", "3", "--workers", "1", "--store", str(store), "--resume")
    assert res.exit_code == 0, res.output
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(os.urandom(4096))
    res = _cli(str(tiny), "--workers", "1", "--store", str(bad), "--resume")
    assert res.exit_code == 2 and "not a readable DuckDB campaign store" in res.output
    foreign = tmp_path / "foreign.duckdb"
    con = duckdb.connect(str(foreign))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    with pytest.raises(StoreError, match="not an iadsim campaign store"):
        Store.open(foreign)


def test_kill_9_then_resume(tiny: Path, tmp_path: Path):
    """SIGKILL the CLI mid-campaign; --resume finishes it, equal to an uninterrupted run."""
    runs = "80"
    args = [str(tiny), "--runs", runs, "--workers", "1", "--batch-size", "2"]
    full, part = tmp_path / "full.duckdb", tmp_path / "part.duckdb"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "iadsim.cli_campaign"]
    proc = subprocess.Popen([*cmd, *args, "--store", str(part)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()  # printed once the store exists, before the first run
    assert "to run" in line, line
    time.sleep(2.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = len(_table(part))
    if stored == int(runs):
        pytest.skip("the campaign finished before the kill")
    res = subprocess.run([*cmd, *args, "--store", str(part), "--resume"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{stored} stored" in res.stdout
    res = subprocess.run([*cmd, *args, "--store", str(full)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0
    assert _table(part) == _table(full) and len(_table(full)) == int(runs)


def test_event_logs_stored_for_the_first_runs_and_exported(tiny, tmp_path):
    from iadsim.campaign import simulate_params
    from iadsim.scenario import parse_scenario

    store = tmp_path / "ev.duckdb"
    res = _cli(str(tiny), "--runs", "3", "--sweep", "raids[0].count=2,4", "--events", "2",
               "--workers", "1", "--store", str(store))
    assert res.exit_code == 0, res.output
    with Store.open(store) as db:
        ev = db.events()
        assert sorted(set(zip(ev["point"], ev["run"], strict=True))) == [(0, 0), (0, 1),
                                                                        (1, 0), (1, 1)]
        assert not any("events" in k for k in db.per_run().columns)
        files = db.export_parquet(tmp_path / "pq")
        assert {f.name for f in files} >= {"runs.parquet", "events.parquet"}
    # the stored log of point 1, run 1 is the one that run gives
    data = yaml.safe_load(TINY)
    data["raids"][0]["count"] = 4
    want = simulate_params(compile_scenario(parse_scenario(data, "tiny")), 3, 1).events_df()
    got = ev[(ev["point"] == 1) & (ev["run"] == 1)]
    assert len(got) == len(want)
    assert got["kind"].tolist() == want["kind"].astype(str).tolist()
    np.testing.assert_allclose(got["t"].to_numpy(), want["t"].to_numpy())
