"""The example scenarios, the command line, and the errors a malformed scenario gets.

(a) every ``scenarios/*.yaml`` loads and runs (shrunk to a few seconds) with its metrics and
event log consistent; (b) ``iadsim catalog | validate | run`` through typer's ``CliRunner``;
(c) malformed files: ``load_scenario`` raises ``ScenarioError`` naming the file and the field,
``validate`` and ``run`` exit with code 2 and ``run`` writes nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml
from typer.testing import CliRunner

import iadsim
from iadsim.catalog import load_catalog
from iadsim.cli import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "scenarios").glob("*.yaml"))
EXAMPLE_IDS = [p.stem for p in EXAMPLES]
# wide enough that rich never wraps a path or a field name in the CLI's output
ENV = {"COLUMNS": "250"}

MAX_PER_RAID = 6  # threats per raid in the shrunk examples
MAX_DURATION_S = 900.0


def test_the_examples_are_there():
    names = {p.name for p in EXAMPLES}
    assert {"layered_defense.yaml", "tor_drone_swarm.yaml", "s125_point_defense.yaml",
            "oreshnik_vs_s400.yaml"} <= names


# --------------------------------------------------------------------------------------------
# (a) every example validates and runs; invariants of one run


def _shrunk(path: Path) -> iadsim.Scenario:
    """The example with at most MAX_PER_RAID threats per raid and a capped duration."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for raid in data["raids"]:
        raid["count"] = min(raid["count"], MAX_PER_RAID)
    data["duration_s"] = min(float(data["duration_s"]), MAX_DURATION_S)
    return iadsim.parse_scenario(data, str(path))


def check_run(res: iadsim.SimResult) -> None:
    """Invariants that hold for every run of every scenario."""
    m, p = res.metrics, res.params
    ev = res.events_df()
    kind = ev["kind"]

    # every launched threat ends one way: leaked, killed or still flying at the end
    assert m["threats"] == m["leakers"] + m["kills"] + m["unresolved"]
    assert m["threats"] == int((kind == "threat_launch").sum())
    leaked = ev.loc[kind == "leak", "threat"].to_numpy()
    killed = ev.loc[kind == "kill", "threat"].to_numpy()
    assert len(leaked) == m["leakers"] and len(killed) == m["kills"]
    assert len(set(leaked)) == len(leaked), "a threat leaked twice"
    assert len(set(killed)) == len(killed), "a threat was killed twice"
    assert not set(leaked) & set(killed), "a threat both leaked and was killed"
    assert (killed >= 0).all()

    # interceptors: one 'launch' event per round, at most one kill per round
    launches = ev[kind == "launch"]
    assert m["interceptors_spent"] == len(launches)
    assert m["kills"] <= m["interceptors_spent"]
    outcomes = ev[kind.isin(["kill", "miss"])]
    assert len(outcomes) <= len(launches), "more kill/miss outcomes than rounds launched"
    assert sum(m[f"spent.{w}"] for w in p.weapons.name) == m["interceptors_spent"]
    assert sum(m[f"kills.{u}"] for u in p.units.name) == m["kills"]

    # every kill/miss is of a round fired earlier at that track
    fired_at: set[int] = set()
    for row in ev[kind.isin(["launch", "kill", "miss"])].itertuples():
        if row.kind == "launch":
            fired_at.add(int(row.track))
        else:
            assert int(row.track) in fired_at, f"{row.kind} at t={row.t} of unfired track"

    # magazines: no unit fires more rounds of a type than it had (ready + reserve), nor, at
    # any time, more than its initial load plus what reloads have brought
    total = p.units.ready0 + p.units.reserve0
    fired = Counter(zip(launches["unit"], launches["weapon"], strict=True))
    for (b, w), n in fired.items():
        assert p.units.has_weapon[b, w]
        assert n <= total[b, w], (p.units.name[b], p.weapons.name[w], n, total[b, w])
    stock = ev[kind.isin(["launch", "reload_done"])]
    for (b, w), _ in fired.items():
        rows = stock[(stock["unit"] == b) & (stock["weapon"] == w)]
        delta = np.where(rows["kind"] == "launch", -1.0, rows["value"].to_numpy())
        assert (p.units.ready0[b, w] + np.cumsum(delta) >= 0).all(), "fired rounds it lacked"
    reloads = ev[kind == "reload_start"]
    for (b, w), grp in reloads.groupby(["unit", "weapon"]):
        assert grp["value"].sum() <= p.units.reserve0[b, w]

    # fire channels: engagements in flight (decision to planned intercept) never exceed them
    if len(launches):
        salvos = launches.drop_duplicates(["unit", "track", "t"])
        for b, grp in salvos.groupby("unit"):
            start = grp["t"].to_numpy() - p.units.reaction_time_s[b]
            end = grp["t"].to_numpy() + grp["value"].to_numpy()
            edges = sorted([(s, 1) for s in start] + [(e, -1) for e in end],
                           key=lambda x: (x[0], x[1]))
            busy = np.cumsum([d for _, d in edges])
            assert busy.max() <= p.units.channels[b], (p.units.name[b], busy.max())


def test_the_run_checks_catch_violations():
    """check_run is not vacuous: tampered parameters or events make it fail."""
    res = iadsim.simulate(_shrunk(ROOT / "scenarios" / "tor_drone_swarm.yaml"), seed=1)
    check_run(res)
    p = res.params
    assert res.metrics["interceptors_spent"] > 5
    one_channel = dataclasses.replace(p.units, channels=np.ones_like(p.units.channels))
    five_rounds = dataclasses.replace(p.units, ready0=np.full_like(p.units.ready0, 5),
                                      reserve0=np.zeros_like(p.units.reserve0))
    for units, what in ((one_channel, "tor-1"), (five_rounds, "9m338k")):
        bad = dataclasses.replace(res, params=dataclasses.replace(p, units=units))
        with pytest.raises(AssertionError, match=what):
            check_run(bad)
    # relabel the launches at the first track to see an outcome: its kill/miss is now unfired
    ev = res.events
    track = ev.column("track").to_numpy().copy()
    kind = np.array(ev.column("kind").to_pylist())
    first = track[np.flatnonzero(np.isin(kind, ["kill", "miss"]))[0]]
    track[(kind == "launch") & (track == first)] = 10**9
    events = ev.set_column(ev.schema.get_field_index("track"), "track", pa.array(track))
    with pytest.raises(AssertionError, match="unfired track"):
        check_run(dataclasses.replace(res, events=events))


@pytest.mark.parametrize("path", EXAMPLES, ids=EXAMPLE_IDS)
def test_example_validates_and_runs_small(path: Path):
    sc = iadsim.load_scenario(path)
    assert sc.description, "examples carry a description"
    text = path.read_text(encoding="utf-8")
    assert text.lstrip().startswith("#"), "examples open with a comment explaining them"
    small = _shrunk(path)
    res = iadsim.simulate(small, seed=1)
    assert res.metrics["threats"] > 0
    check_run(res)


def test_tor_swarm_saturates_the_battery():
    """Full size: the 64 ready rounds are all fired, none reloaded in time, and many leak."""
    sc = iadsim.load_scenario(ROOT / "scenarios" / "tor_drone_swarm.yaml")
    res = iadsim.simulate(sc, seed=1)
    check_run(res)
    m, p = res.metrics, res.params
    assert p.units.channels.tolist() == [16]
    assert int(p.units.ready0.sum()) == 64
    assert m["threats"] == sc.threat_count > 64
    assert m["interceptors_spent"] == 64
    assert m["leakers"] > m["threats"] // 2
    assert m["leakers.fpv"] > 0 and m["leakers.shahed-136"] > 0


def test_oreshnik_re_entry_vehicles_are_not_killed():
    """Mach 10 beats the 48N6's 2,800 m/s limit; the 40N6 envelope closes too early."""
    sc = iadsim.load_scenario(ROOT / "scenarios" / "oreshnik_vs_s400.yaml")
    for seed in (1, 2):
        res = iadsim.simulate(sc, seed=seed)
        check_run(res)
        assert res.metrics["kills"] == 0
        assert res.metrics["leakers"] == res.metrics["threats"] == 6
    # lifting the 48N6's speed limit lets it kill some (the limit, not the physics, binds)
    faster = sc.model_copy(update={"overrides": {"48n6.max_target_speed_mps": 4800.0}})
    kills = [iadsim.simulate(faster, seed=s).metrics["kills"] for s in (1, 2, 3)]
    assert sum(kills) > 0


def test_s125_single_channel_engages_one_target_at_a_time():
    res = iadsim.simulate(_shrunk(ROOT / "scenarios" / "s125_point_defense.yaml"), seed=2)
    check_run(res)  # includes the channel check, here 1
    assert res.params.units.channels.tolist() == [1]
    assert set(res.params.sensors.type) == {"snr-125", "p-18"}  # organic radars came with it
    assert res.metrics["interceptors_spent"] > 0


def test_shrinking_by_model_copy_matches_the_dict_route():
    path = ROOT / "scenarios" / "s125_point_defense.yaml"
    sc = iadsim.load_scenario(path)
    raids = [r.model_copy(update={"count": min(r.count, MAX_PER_RAID)}) for r in sc.raids]
    copied = sc.model_copy(update={"raids": raids, "duration_s": MAX_DURATION_S})
    assert copied.threat_count == _shrunk(path).threat_count
    a = iadsim.simulate(copied, seed=4, record=False).metrics
    b = iadsim.simulate(_shrunk(path), seed=4, record=False).metrics
    assert pd.Series(a).equals(pd.Series(b))  # NaN-safe (first_leak_s, cost_exchange)


# --------------------------------------------------------------------------------------------
# (b) the command line

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], env=ENV)


def test_catalog_lists_every_key():
    res = invoke("catalog")
    assert res.exit_code == 0, res.output
    cat = load_catalog()
    listed = {line.split("│")[1].strip() for line in res.stdout.splitlines()
              if line.startswith("│")}
    assert listed == set(cat.keys())


def test_catalog_show_s400_params_and_sources():
    res = invoke("catalog", "show", "s-400")
    assert res.exit_code == 0, res.output
    out = res.stdout
    e = load_catalog().get("s-400")
    assert out.startswith("s-400 (fire_unit)")
    for name in e.params:
        assert name in out
    assert "40n6, 48n6" in out and "91n6e, 92n6e" in out
    ids = {s for p in e.params.values() for s in p.source}
    assert {"P21", "ASSUMPTION"} <= ids
    for sid in ids:
        assert f"  {sid}: " in out, sid


def test_catalog_show_unknown_key_suggests():
    res = invoke("catalog", "show", "s400")
    assert res.exit_code == 2
    assert "'s400'" in res.stderr and "did you mean 's-400'" in res.stderr
    assert res.stdout == ""


def test_validate_every_example():
    res = invoke("validate", *EXAMPLES)
    assert res.exit_code == 0, res.output
    for path in EXAMPLES:
        name = iadsim.load_scenario(path).name
        assert f"ok {path}: {name}" in res.stdout
    assert "175 threats" in res.stdout  # the Tor swarm's total


def test_run_writes_outputs(tmp_path: Path):
    out = tmp_path / "x"
    res = invoke("run", ROOT / "scenarios" / "oreshnik_vs_s400.yaml", "--runs", "3",
                 "--workers", "1", "--out", out)
    assert res.exit_code == 0, res.output
    for f in ("report.html", "metrics.parquet", "metrics.json", "summary.parquet",
              "events_run0.parquet"):
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    per_run = pd.read_parquet(out / "metrics.parquet")
    assert per_run["run"].tolist() == [0, 1, 2]
    assert (per_run["threats"] == 6).all()
    doc = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert doc["scenario"] == "oreshnik-vs-s400" and doc["runs"] == 3
    assert len(doc["per_run"]) == 3
    events = pd.read_parquet(out / "events_run0.parquet")
    assert (events["kind"].astype(str) == "threat_launch").sum() == 6
    assert "oreshnik-vs-s400" in (out / "report.html").read_text(encoding="utf-8")
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "x"]
    assert leftovers == [], "temporary output folders left behind"


def test_run_with_kills_on_a_small_scenario(tmp_path: Path):
    data = copy.deepcopy(VALID)
    data["raids"][0]["count"] = 4
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = tmp_path / "x"
    res = invoke("run", path, "--runs", "3", "--workers", "1", "--out", out)
    assert res.exit_code == 0, res.output
    per_run = pd.read_parquet(out / "metrics.parquet")
    assert (per_run["threats"] == 4).all()
    assert (per_run["interceptors_spent"] > 0).all()
    assert (per_run["threats"] == per_run["leakers"] + per_run["kills"]
            + per_run["unresolved"]).all()


# --------------------------------------------------------------------------------------------
# (c) malformed scenarios

# a small valid scenario: a Tor-M2K battery and a few drones from 12 km
VALID = {
    "name": "small",
    "origin": {"lat_deg": 53.9, "lon_deg": 27.56},
    "duration_s": 400,
    "seed": 2,
    "assets": [{"name": "site", "lat_deg": 53.9, "lon_deg": 27.56, "value": 10,
                "radius_m": 300}],
    "fire_units": [{"name": "tor", "type": "tor-m2k", "lat_deg": 53.9, "lon_deg": 27.56}],
    "raids": [{"name": "drones", "threat": "shahed-136", "count": 3,
               "launch": {"lat_deg": 53.79, "lon_deg": 27.56}, "spacing_s": 10,
               "target": "site"}],
}


def _set(path: str, value):
    def edit(d: dict) -> None:
        *head, last = path.split(".")
        node = d
        for k in head:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[last] = value
    return edit


def _drop(key: str):
    def edit(d: dict) -> None:
        del d[key]
    return edit


def _rename(old: str, new: str, where: str = ""):
    def edit(d: dict) -> None:
        node = d
        for k in filter(None, where.split(".")):
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[new] = node.pop(old)
    return edit


# id -> (edit of VALID, or raw file text; substrings the error must contain)
MALFORMED = {
    "unknown-top-level-key": (_set("doctrin", {"salvo_size": 2}),
                              ["doctrin: unknown key", "did you mean 'doctrine'"]),
    "unknown-nested-key": (_rename("spacing_s", "spacing", "raids.0"),
                           ["raids[0].spacing: unknown key", "did you mean 'spacing_s'"]),
    "unknown-threat": (_set("raids.0.threat", "shahed"),
                       ["raids[0].threat: unknown threat type 'shahed'",
                        "did you mean 'shahed-136'"]),
    "unknown-fire-unit": (_set("fire_units.0.type", "tor-m2"),
                          ["fire_units[0].type: unknown fire unit type 'tor-m2'",
                           "did you mean 'tor-m2k'"]),
    "negative-range": (_set("raids.0.launch.radius_km", -5),
                       ["raids[0].launch.radius_km", "greater than or equal to 0", "-5"]),
    "nan": ("nan", ["assets[0].value", "finite"]),
    "missing-asset": (_set("raids.0.target", "sit"),
                      ["raids[0].target: no asset named 'sit'", "did you mean 'site'"]),
    "absurd-count": (_set("raids.0.count", 10_000_000),
                     ["raids[0].count", "100000", "10000000"]),
    "not-a-mapping": ("- just\n- a list\n", ["(top level): expected a mapping, got list"]),
    "invalid-yaml": ("name: x\norigin: {lat_deg: 1\nduration_s: 3\n",
                     ["line 3, column 11: invalid YAML"]),
    "missing-field": (_drop("duration_s"), ["duration_s: Field required"]),
}


def _write_bad(tmp_path: Path, case: str) -> Path:
    edit, _ = MALFORMED[case]
    path = tmp_path / f"bad-{case}.yaml"
    if edit == "nan":
        text = yaml.safe_dump(VALID, sort_keys=False).replace("value: 10", "value: .nan")
        assert ".nan" in text
    elif isinstance(edit, str):
        text = edit
    else:
        data = copy.deepcopy(VALID)
        edit(data)
        text = yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_valid_base_is_valid(tmp_path: Path):
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(VALID), encoding="utf-8")
    assert iadsim.load_scenario(path).threat_count == 3


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_load_raises_scenario_error(tmp_path: Path, case: str):
    path = _write_bad(tmp_path, case)
    with pytest.raises(iadsim.ScenarioError) as info:
        iadsim.load_scenario(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: "), msg
    assert info.value.source == str(path)
    assert len(info.value.problems) == 1, info.value.problems
    assert msg.startswith(f"{path}: 1 problem(s)\n  {info.value.problems[0]}")
    for part in MALFORMED[case][1]:
        assert part in msg, (part, msg)


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_validate_exits_2(tmp_path: Path, case: str):
    path = _write_bad(tmp_path, case)
    res = invoke("validate", path)
    assert res.exit_code == 2, res.output
    assert "invalid scenario" in res.stderr
    assert str(path) in res.stderr
    for part in MALFORMED[case][1]:
        assert part in res.stderr, (part, res.stderr)
    assert "Traceback" not in res.output


@pytest.mark.parametrize("case", ["unknown-threat", "nan", "invalid-yaml", "not-a-mapping"])
def test_malformed_run_exits_2_and_writes_nothing(tmp_path: Path, case: str):
    path = _write_bad(tmp_path, case)
    out = tmp_path / "out"
    res = invoke("run", path, "--runs", "2", "--workers", "1", "--out", out)
    assert res.exit_code == 2, res.output
    assert MALFORMED[case][1][0] in res.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_validate_stops_at_the_first_bad_file(tmp_path: Path):
    good = ROOT / "scenarios" / "oreshnik_vs_s400.yaml"
    bad = _write_bad(tmp_path, "unknown-threat")
    res = invoke("validate", good, bad)
    assert res.exit_code == 2
    assert f"ok {good}" in res.stdout
    assert "raids[0].threat" in res.stderr


def test_missing_file(tmp_path: Path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(iadsim.ScenarioError, match="cannot read file"):
        iadsim.load_scenario(path)
    res = invoke("validate", path)
    assert res.exit_code == 2
    assert "nope.yaml" in res.stderr


# --------------------------------------------------------------------------------------------
# CLI robustness: error text is not markup; --out never deletes foreign files


def test_cli_error_text_is_not_read_as_markup(tmp_path: Path):
    path = tmp_path / "raid[b]1.yaml"
    path.write_text(_write_bad(tmp_path, "unknown-threat").read_text(), encoding="utf-8")
    res = invoke("validate", path)
    assert res.exit_code == 2
    assert str(path) in res.stderr


def test_run_does_not_delete_foreign_files_in_out(tmp_path: Path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep", encoding="utf-8")
    res = invoke("run", ROOT / "scenarios" / "oreshnik_vs_s400.yaml", "--runs", "1",
                 "--workers", "1", "--out", out)
    assert (out / "notes.txt").is_file(), res.exit_code
    assert res.exit_code == 2
    assert "did not write" in res.stderr
