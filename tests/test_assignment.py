"""The dynamic engagement planner: feasibility, limits, doctrines and the per-frame optimum.

(a) frames built from hand-made worlds: infeasible pairs (out of the envelope, intercept after
impact) are never candidates; the preserve doctrine spares long-range rounds only where a
shorter-range layer can engage; (b) whole runs: fire channels, ``tracks_max`` and magazines
are never exceeded, shoot-look-shoot never fires at a track with rounds in flight while
shoot-shoot-look does, hold fire holds; (c) the solvers on random frames: every answer is
feasible, the optimum is never below greedy and equals brute force on tiny frames.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import iadsim
import iadsim.engine as engine
from iadsim.assessment import assess
from iadsim.assignment import dynamic
from iadsim.assignment.dynamic import Frame, build_frame, is_feasible, objective
from iadsim.catalog import THREAT_CLASSES
from iadsim.compile import compile_scenario
from iadsim.engagement import init_units
from iadsim.state import TRACK_CONFIRMED, Engagements, InFlight, Tracks
from test_scenarios import check_run

ROOT = Path(__file__).resolve().parents[1]
ORIGIN = {"lat_deg": 53.9, "lon_deg": 27.56, "alt_m": 0}


def _params(units: list[dict], **doctrine) -> iadsim.params.Params:
    data = {
        "name": "frame", "origin": ORIGIN, "duration_s": 100,
        "assets": [{"name": "site", "lat_deg": 53.9, "lon_deg": 27.56, "alt_m": 0, "value": 10,
                    "radius_m": 500}],
        "fire_units": units,
        "raids": [{"name": "r", "threat": "shahed-136", "count": 1, "target": "site",
                   "launch": {"lat_deg": 53.8, "lon_deg": 27.56}}],
        "doctrine": doctrine,
    }
    return compile_scenario(iadsim.parse_scenario(data, "frame.yaml"))


def _frame(params, pos: list[list[float]], vel: list[list[float]], t: float = 100.0) -> Frame:
    """The frame of a world whose confirmed, mature, accurate tracks are at ``pos``/``vel``."""
    tracks = Tracks.empty(16)
    n = len(pos)
    x = tracks.x.copy()
    x[:n, :3], x[:n, 3:] = pos, vel
    p = np.tile(np.diag([25.0] * 3 + [1.0] * 3), (16, 1, 1))
    status = tracks.status.copy()
    status[:n] = TRACK_CONFIRMED
    hits = np.where(status == TRACK_CONFIRMED, 20, 0)
    ids = np.where(status == TRACK_CONFIRMED, np.arange(16), -1)
    tracks = Tracks(x=x, P=p, t_update=np.full(16, t), t_init=np.zeros(16), hits=hits,
                    misses=np.zeros(16, dtype=np.int64), n_scans=hits, status=status,
                    track_id=ids, next_id=n)
    a = assess(tracks, t, params.assets, params.doctrine)
    eng = Engagements.empty(16, len(params.units.name))
    flying = InFlight(salvos=np.zeros(16, dtype=np.int64), survival=np.ones(16))
    return build_frame(t, tracks, a, eng, flying, init_units(params), params)


TOR = {"name": "tor", "type": "tor-m2k", "lat_deg": 53.9, "lon_deg": 27.56, "alt_m": 0}
S400 = {"name": "s400", "type": "s-400", "lat_deg": 53.9, "lon_deg": 27.56, "alt_m": 0}


# --------------------------------------------------------------------------------------------
# (a) frames from hand-made worlds


def test_infeasible_pairs_are_never_candidates():
    params = _params([TOR])
    # 0: a drone 10 km south at 200 m, inbound at 50 m/s: feasible
    # 1: 40 km south, beyond the 16 km envelope
    # 2: at 15 km altitude, above the 12 km ceiling
    frame = _frame(params, [[0, -10e3, 200], [0, -40e3, 200], [0, -8e3, 15e3]],
                   [[0, 50, 0], [0, 50, 0], [0, 50, 0]])
    assert set(frame.track.tolist()) == {0}
    w = params.weapons
    for c in range(len(frame)):
        b, wi = frame.unit[c], frame.weapon[c]
        rng = np.linalg.norm(frame.aim[c] - params.units.pos[b])
        assert w.min_range_m[wi] <= rng <= w.max_range_m[wi].max()


def test_intercept_after_impact_is_never_a_candidate():
    """A Tor 10 km east of the site; a fast air-breather 3 km south of it, level at 200 m: the
    intercept point (~3 km north of the site) is inside the envelope, but only after the
    track's closest approach to the site (its predicted impact, 10 s away)."""
    east = dict(TOR, lon_deg=27.56 + 10e3 / (111.32e3 * np.cos(np.radians(53.9))))
    params = _params([east])
    pos, vel = np.array([[0.0, -3e3, 200.0]]), np.array([[0.0, 300.0, 0.0]])
    lead, _, inside = dynamic._geometry(params, pos, vel, np.array([2]))
    assert inside[0, 0, 0] and lead[0, 0, 0] > 10.0  # in the envelope, but too late
    assert len(_frame(params, pos.tolist(), vel.tolist())) == 0
    # the same track 10 km further out is engaged
    assert len(_frame(params, [[0.0, -13e3, 200.0]], vel.tolist())) > 0


def test_ballistic_tracks_are_aimed_under_gravity():
    """A track classed ballistic (3 km/s, 33 deg dive, 60 km out at 40 km) is aimed where a
    body under gravity will be, not on the straight line: the round's fly-out meets that point
    exactly, and the aim point lies g T^2 / 2 below the straight-line one. A cruise-class
    track at the same state keeps the straight line."""
    params = _params([S400])
    gam = np.radians(33.0)
    pos = np.array([[0.0, -60e3, 40e3]])
    vel = np.array([[0.0, 3000.0 * np.cos(gam), -3000.0 * np.sin(gam)]])
    ballistic = THREAT_CLASSES.index("ballistic")
    lead, aim, _ = dynamic._geometry(params, pos, vel, np.array([ballistic]))
    b, w = 0, int(np.argmax(np.isfinite(lead[0, :, 0])))
    t = lead[b, w, 0]
    assert np.isfinite(t)
    g = np.array([0.0, 0.0, -9.80665])
    assert np.allclose(aim[b, w, 0], pos[0] + vel[0] * t + 0.5 * g * t**2, atol=1e-6)
    fly = t - params.units.reaction_time_s[b]
    reach = np.linalg.norm(aim[b, w, 0] - params.units.pos[b])
    assert reach == pytest.approx(params.weapons.speed_mps[w] * fly, abs=1.0)
    lead_s, aim_s, _ = dynamic._geometry(params, pos, vel, np.array([2]))
    ts = lead_s[b, w, 0]
    assert np.allclose(aim_s[b, w, 0], pos[0] + vel[0] * ts)
    assert aim[b, w, 0, 2] < aim_s[b, w, 0, 2] - 1e3  # km lower: gravity matters here


def test_preserve_spares_long_range_rounds_where_a_cheaper_layer_covers():
    cruise = ([[0, -60e3, 100]], [[0, 250, 0]])  # a cruise missile 60 km out, inbound
    drone = ([[0, -30e3, 200]], [[0, 50, 0]])
    s400 = _params([S400], preserve_long_range=True)
    both = _params([S400, TOR], preserve_long_range=True)
    both_free = _params([S400, TOR], preserve_long_range=False)
    long_range = {i for i, n in enumerate(both.weapons.name) if n in ("40n6", "48n6")}
    # alone, the S-400 engages the cruise missile, but never a drone under preserve
    assert len(_frame(s400, *cruise)) > 0
    assert len(_frame(s400, *drone)) == 0
    # with a Tor that can engage it later, the S-400 holds its rounds
    assert not set(_frame(both, *cruise).weapon.tolist()) & long_range
    assert set(_frame(both_free, *cruise).weapon.tolist()) & long_range


def test_hold_fire_below_value_builds_no_candidates():
    pos, vel = [[0, -10e3, 200]], [[0, 50, 0]]
    assert len(_frame(_params([TOR], hold_below_value=10.0), pos, vel)) == 0
    assert len(_frame(_params([TOR], hold_below_value=9.9), pos, vel)) > 0


# --------------------------------------------------------------------------------------------
# (b) whole runs


def _load(name: str, per_raid: int = 6, duration: float = 900.0, **doctrine) -> iadsim.Scenario:
    data = yaml.safe_load((ROOT / "scenarios" / name).read_text(encoding="utf-8"))
    for raid in data["raids"]:
        raid["count"] = min(raid["count"], per_raid)
    data["duration_s"] = min(float(data["duration_s"]), duration)
    data.setdefault("doctrine", {}).update(doctrine)
    return iadsim.parse_scenario(data, name)


class Spy:
    """Wraps the engine's planner: checks every frame and records every decision."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.decisions: list[tuple] = []
        self.frames = 0
        monkeypatch.setattr(engine, "plan", self)

    def __call__(self, t, tracks, assessment, eng, flying, units, params):
        frame = build_frame(t, tracks, assessment, eng, flying, units, params)
        chosen = dynamic.SOLVERS[params.doctrine.planner](frame)
        assert is_feasible(frame, chosen)
        for b in range(len(params.units.name)):
            assert len(np.unique(frame.track[frame.unit == b])) <= params.units.tracks_max[b]
        self.frames += len(frame) > 0
        out = dynamic.plan(t, tracks, assessment, eng, flying, units, params)
        w = params.weapons
        for i in range(len(out)):
            b, wi, k = out.unit[i], out.weapon[i], out.track[i]
            lead = out.intercept_t[i] - t
            assert lead < assessment.tti[k], "intercept planned after the predicted impact"
            rng = np.linalg.norm(out.aim[i] - params.units.pos[b])
            cat = assessment.category[k]
            assert w.min_range_m[wi] <= rng <= params.doctrine.range_margin * w.max_range_m[wi, cat]
            self.decisions.append((t, int(tracks.track_id[k]), int(b), int(wi), int(cat),
                                   int(flying.salvos[k])))
        return out


CASES = [("layered_defense.yaml", {}), ("layered_defense.yaml", {"mode": "shoot-shoot-look"}),
         ("layered_defense.yaml", {"mode": "salvo", "planner": "greedy"}),
         ("tor_drone_swarm.yaml", {"mode": "salvo"}), ("s125_point_defense.yaml", {}),
         ("tor_drone_swarm.yaml", {"mode": "shoot-shoot-look", "preserve_long_range": True})]


@pytest.mark.parametrize(("name", "doctrine"), CASES, ids=[f"{n[:6]}-{d}" for n, d in CASES])
def test_runs_respect_envelopes_channels_tracks_and_magazines(monkeypatch, name, doctrine):
    spy = Spy(monkeypatch)
    for seed in (1, 2):
        res = iadsim.simulate(_load(name, **doctrine), seed=seed)
        check_run(res)  # channels and magazines in the event log
    assert spy.frames > 0 and spy.decisions


def _salvo_overlaps(res: iadsim.SimResult) -> int:
    """Salvos decided at a track while an earlier salvo at it was still in flight."""
    ev = res.events_df()
    launches = ev[ev.kind == "launch"].drop_duplicates(["unit", "track", "t"])
    tau = res.params.units.reaction_time_s[launches["unit"].to_numpy()]
    launches = launches.assign(decided=launches["t"] - tau, end=launches["t"] + launches["value"])
    n = 0
    for _, grp in launches.sort_values("decided").groupby("track"):
        ends = grp["end"].to_numpy()
        decided = grp["decided"].to_numpy()
        n += sum(int((decided[i] < ends[:i] - 1e-9).any()) for i in range(1, len(grp)))
    return n


def test_shoot_look_shoot_waits_and_shoot_shoot_look_does_not():
    base = _load("tor_drone_swarm.yaml", per_raid=8)
    ssl = _load("tor_drone_swarm.yaml", per_raid=8, mode="shoot-shoot-look")
    sls_overlaps = [_salvo_overlaps(iadsim.simulate(base, seed=s)) for s in (1, 2)]
    ssl_overlaps = [_salvo_overlaps(iadsim.simulate(ssl, seed=s)) for s in (1, 2)]
    assert sls_overlaps == [0, 0]
    assert sum(ssl_overlaps) > 0


def test_shoot_shoot_look_fires_at_most_two_salvos_before_a_look(monkeypatch):
    spy = Spy(monkeypatch)
    iadsim.simulate(_load("tor_drone_swarm.yaml", per_raid=8, mode="shoot-shoot-look"), seed=1)
    in_flight = [d[5] for d in spy.decisions]
    assert max(in_flight) == 1 and min(in_flight) == 0


def test_hold_fire_over_the_only_asset_fires_nothing():
    res = iadsim.simulate(_load("tor_drone_swarm.yaml", hold_below_value=10.0), seed=1)
    assert res.metrics["interceptors_spent"] == 0
    assert res.metrics["threats"] > 0


def test_preserve_never_fires_long_range_rounds_at_drones(monkeypatch):
    spy = Spy(monkeypatch)
    sc = _load("layered_defense.yaml", per_raid=8, duration=1500, preserve_long_range=True)
    spent = {"40n6": 0, "48n6": 0}
    for seed in (1, 2):
        res = iadsim.simulate(sc, seed=seed)
        check_run(res)
        ev = res.events_df()
        names = np.array(res.params.weapons.name)
        types = np.array(res.params.threats.type)
        out = ev[ev.kind.isin(["kill", "miss"]) & (ev.threat >= 0)]
        drones = types[out.threat.to_numpy()] == "shahed-136"
        for w in spent:
            spent[w] += int((names[out.weapon.to_numpy()][drones] == w).sum())
    assert spent == {"40n6": 0, "48n6": 0}
    uav = THREAT_CLASSES.index("uav")
    names = np.array(res.params.weapons.name)
    assert not [d for d in spy.decisions if names[d[3]] in spent and d[4] == uav]


# --------------------------------------------------------------------------------------------
# (c) solvers on random frames


@st.composite
def frames(draw, max_candidates: int = 14) -> Frame:
    b = draw(st.integers(1, 3))
    w = draw(st.integers(1, 2))
    k = draw(st.integers(1, 5))
    pairs = [(u, x, t) for u in range(b) for x in range(w) for t in range(k)]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=max_candidates,
                           unique=True))
    gains = draw(st.lists(st.floats(0.01, 10.0), min_size=len(chosen), max_size=len(chosen)))
    order = np.argsort(-np.array(gains), kind="stable")
    cand = np.array(chosen, dtype=np.int64)[order].reshape(-1, 3)
    channels = np.array(draw(st.lists(st.integers(0, 3), min_size=b, max_size=b)))
    salvos = np.array(draw(st.lists(st.integers(0, 3), min_size=b * w, max_size=b * w)))
    return Frame(unit=cand[:, 0], weapon=cand[:, 1], track=cand[:, 2],
                 rounds=np.ones(len(cand), dtype=np.int64), gain=np.array(gains)[order],
                 lead=np.ones(len(cand)), aim=np.zeros((len(cand), 3)), channels=channels,
                 salvos=salvos.reshape(b, w))


def _brute_force(frame: Frame) -> float:
    best = 0.0
    for r in range(1, len(frame) + 1):
        for subset in itertools.combinations(range(len(frame)), r):
            chosen = np.zeros(len(frame), dtype=bool)
            chosen[list(subset)] = True
            if is_feasible(frame, chosen):
                best = max(best, objective(frame, chosen))
    return best


@settings(max_examples=300, deadline=None)
@given(frames())
def test_optimal_is_feasible_and_never_below_greedy(frame: Frame):
    greedy = dynamic.solve_greedy(frame)
    best = dynamic.solve_optimal(frame)
    assert is_feasible(frame, greedy) and is_feasible(frame, best)
    assert objective(frame, best) >= objective(frame, greedy) - 1e-9


@settings(max_examples=200, deadline=None)
@given(frames(max_candidates=9))
def test_optimal_matches_brute_force_on_tiny_frames(frame: Frame):
    best = dynamic.solve_optimal(frame)
    assert objective(frame, best) == pytest.approx(_brute_force(frame), abs=1e-9)


def test_optimal_beats_greedy_where_greedy_blocks_itself():
    """Unit 0 can fire at tracks 0 and 1, unit 1 only at track 0: greedy gives track 0 to
    unit 0 (larger gain) and leaves unit 1 idle; the optimum covers both tracks."""
    frame = Frame(unit=np.array([0, 1, 0]), weapon=np.zeros(3, dtype=np.int64),
                  track=np.array([0, 0, 1]), rounds=np.ones(3, dtype=np.int64),
                  gain=np.array([5.0, 4.0, 3.0]), lead=np.ones(3), aim=np.zeros((3, 3)),
                  channels=np.array([1, 1]), salvos=np.array([[3], [3]]))
    assert objective(frame, dynamic.solve_greedy(frame)) == 5.0
    assert objective(frame, dynamic.solve_optimal(frame)) == 7.0
    stock_binds = dataclasses.replace(frame, salvos=np.array([[1], [0]]))
    assert objective(stock_binds, dynamic.solve_optimal(stock_binds)) == 5.0
