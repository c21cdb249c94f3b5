"""2-D Cartesian GNN tracker, its file I/O and ``iadsim track`` (behaviour, not snapshots)."""

from __future__ import annotations

import gzip
import importlib.util
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from iadsim.cli_track import track
from iadsim.tracking.cartesian import CartesianParams, gate_pairs, gnn, run_tracker
from iadsim.tracking.io import TrackingInputError, read_detections, read_params, write_tracks

EXAMPLE = Path("/work/shared/tracking/example")
SCORE = Path("/work/shared/tracking/score.py")
needs_example = pytest.mark.skipif(not (EXAMPLE / "detections.csv.gz").exists(),
                                   reason="shared example not available")


def _truncated_example(dst: Path, scans: int = 50, permute_ids: bool = False) -> Path:
    """The shared example's first ``scans`` scans as plain files in ``dst``."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("detections", "truth"):
        with gzip.open(EXAMPLE / f"{name}.csv.gz", "rt") as f:
            lines = f.read().splitlines()
        keep = [lines[0]] + [ln for ln in lines[1:] if float(ln.split(",")[0]) < scans - 0.5]
        if name == "truth" and permute_ids:
            perm = np.random.default_rng(7).permutation(1000)
            keep = [keep[0]] + [",".join([p[0], str(perm[int(p[1])]), *p[2:]])
                                for p in (ln.split(",") for ln in keep[1:])]
        (dst / f"{name}.csv").write_text("\n".join(keep) + "\n")
    prm = json.loads((EXAMPLE / "params.json").read_text())
    prm["scans"] = scans
    (dst / "params.json").write_text(json.dumps(prm))
    return dst


def _cli(*args: str):
    app = typer.Typer()
    app.command()(track)
    app.command("other")(lambda: None)  # keeps "track" a named subcommand, as in iadsim's app
    return CliRunner().invoke(app, ["track", *args])


def _scene(truth_pos: np.ndarray, rng, sigma: float, pd: float = 1.0, clutter: float = 0.0,
           half: float = 100e3):
    """Detections ``(times, xy)`` from truth ``[scans, n, 2]`` (+ uniform clutter per scan)."""
    times, xy = [], []
    for k, pos in enumerate(truth_pos):
        z = pos[rng.random(len(pos)) < pd]
        z = z + rng.normal(0, sigma, z.shape)
        c = rng.uniform(-half, half, (rng.poisson(clutter), 2))
        z = np.concatenate([z, c])[rng.permutation(len(z) + len(c))]
        times += [float(k)] * len(z)
        xy.append(z)
    return np.array(times), np.concatenate(xy).reshape(-1, 2)


def test_single_target_without_noise_converges():
    t = np.arange(40.0)
    truth = np.stack([1000 + 300 * t, -2000 - 150 * t], axis=1)[:, None, :]
    times, xy = _scene(truth, np.random.default_rng(0), sigma=0.0)
    out = run_tracker(times, xy, CartesianParams(dt=1.0, sigma=50.0), n_scans=40)
    assert set(out[:, 1].astype(int)) == {0}
    last = out[out[:, 0] == 39.0][0]
    assert np.allclose(last[2:4], truth[-1, 0], atol=1e-6)
    assert np.allclose(last[4:6], [300.0, -150.0], atol=0.5)


def test_two_crossing_targets_keep_their_ids():
    t = np.arange(60.0)[:, None]
    a = np.hstack([-9000 + 300 * t, 0 * t])  # east-bound, crosses b at t = 30
    b = np.hstack([0 * t, -9000 + 300 * t])  # north-bound
    truth = np.stack([a, b], axis=1)
    times, xy = _scene(truth, np.random.default_rng(1), sigma=50.0, pd=0.95, clutter=5)
    out = run_tracker(times, xy, CartesianParams(dt=1.0, sigma=50.0), n_scans=60)
    assert len(set(out[:, 1].astype(int))) == 2
    for tid in (0, 1):
        rows = out[out[:, 1] == tid]
        k = rows[:, 0].astype(int)
        d = np.linalg.norm(truth[k] - rows[:, None, 2:4], axis=2)  # [rows, 2 truths]
        apart = np.linalg.norm(truth[k, 0] - truth[k, 1], axis=1) > 500.0  # not at the crossing
        assert len(set(np.argmin(d[apart], axis=1))) == 1  # always nearest the same truth
        assert d.min(axis=1).max() < 400.0


def test_clutter_only_confirms_no_track():
    times, xy = _scene(np.zeros((100, 0, 2)), np.random.default_rng(2), sigma=50.0, clutter=15)
    out = run_tracker(times, xy, CartesianParams(dt=1.0, sigma=50.0), n_scans=100)
    assert out.shape == (0, 6)


@needs_example
def test_truth_ids_do_not_matter(tmp_path):
    a = _truncated_example(tmp_path / "a", 30)
    b = _truncated_example(tmp_path / "b", 30, permute_ids=True)
    for d in (a, b):
        r = _cli(str(d / "detections.csv"), "--params", str(d / "params.json"),
                 "--out", str(d / "tracks.csv"))
        assert r.exit_code == 0, r.output
    assert (a / "truth.csv").read_text() != (b / "truth.csv").read_text()
    assert (a / "tracks.csv").read_bytes() == (b / "tracks.csv").read_bytes()


def test_deterministic_and_independent_of_row_order_within_a_scan():
    rng = np.random.default_rng(3)
    t = np.arange(40.0)[:, None, None]
    truth = rng.uniform(-50e3, 50e3, (1, 8, 2)) + t * rng.uniform(-300, 300, (1, 8, 2))
    times, xy = _scene(truth, rng, sigma=50.0, pd=0.9, clutter=10)
    p = CartesianParams(dt=1.0, sigma=50.0)
    first = run_tracker(times, xy, p, 40)
    assert np.array_equal(first, run_tracker(times, xy, p, 40))
    perm = np.lexsort((rng.random(len(times)), times))  # shuffle within each scan
    other = run_tracker(times[perm], xy[perm], p, 40)
    key = lambda a: a[np.lexsort((a[:, 3], a[:, 2], a[:, 0]))][:, [0, 2, 3, 4, 5]]  # noqa: E731
    assert np.allclose(key(first), key(other), rtol=0, atol=1e-9)


def _brute_force(n_tracks, n_dets, pairs, miss):
    best = np.inf
    for assign in itertools.product(range(-1, n_dets), repeat=n_tracks):
        used = [j for j in assign if j >= 0]
        if len(used) != len(set(used)) or any(j >= 0 and (i, j) not in pairs
                                              for i, j in enumerate(assign)):
            continue
        best = min(best, sum(pairs[(i, j)] if j >= 0 else miss for i, j in enumerate(assign)))
    return best


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4), st.integers(1, 5), st.data())
def test_gnn_matches_brute_force(n_tracks, n_dets, data):
    miss = 3.0
    mask = data.draw(st.lists(st.booleans(), min_size=n_tracks * n_dets,
                              max_size=n_tracks * n_dets))
    dist = data.draw(st.lists(st.floats(0.0, 2.999), min_size=n_tracks * n_dets,
                              max_size=n_tracks * n_dets))
    pairs = {(i, j): dist[i * n_dets + j] for i in range(n_tracks) for j in range(n_dets)
             if mask[i * n_dets + j]}
    rows, cols = zip(*pairs, strict=False) if pairs else ((), ())
    a = gnn(n_tracks, n_dets, list(rows), list(cols), list(pairs.values()), miss)
    assert len(set(a[a >= 0])) == int((a >= 0).sum())
    assert all(j < 0 or (i, j) in pairs for i, j in enumerate(a))
    cost = sum(pairs[(i, j)] if j >= 0 else miss for i, j in enumerate(a))
    assert cost == pytest.approx(_brute_force(n_tracks, n_dets, pairs, miss), abs=1e-9)


def test_tree_gate_equals_dense_gate():
    rng = np.random.default_rng(4)
    pos = rng.uniform(-20e3, 20e3, (300, 2))
    z = np.concatenate([pos[:200] + rng.normal(0, 300, (200, 2)),
                        rng.uniform(-20e3, 20e3, (100, 2))])
    L = rng.normal(0, 300, (300, 2, 2))
    S = L @ L.transpose(0, 2, 1) + np.eye(2) * 2500
    rows, cols, d = gate_pairs(pos, S, z, 3.0)  # 90000 pairs: the tree path
    assert rows.size > 150
    nu = z[None, :, :] - pos[:, None, :]
    d2 = np.einsum("kmi,kij,kmj->km", nu, np.linalg.inv(S), nu)
    r2, c2 = np.nonzero(d2 < 9.0)
    assert np.array_equal(rows, r2) and np.array_equal(cols, c2)
    assert np.allclose(d, np.sqrt(d2[r2, c2]))


@pytest.mark.parametrize(("text", "message"), [
    ("time_s,x\n0,1\n", "missing column(s) y"),
    ("time_s,x,y\n0,1,2\n1,nan,3\n", "row 3, column x: not finite"),
    ("time_s,x,y\n0,1,2\n1,abc,3\n", "row 3, column x: not a number"),
    ("time_s,x,y\n1,1,2\n0,1,3\n", "row 3, column time_s: time 0.0 is before"),
    ("time_s,x,y\n0,1\n", "row 2: 2 fields"),
])
def test_malformed_detections_give_clear_errors(tmp_path, text, message):
    f = tmp_path / "detections.csv"
    f.write_text(text)
    with pytest.raises(TrackingInputError, match="detections.csv") as e:
        read_detections(f)
    assert message in str(e.value)


def test_params_and_gz_and_atomic_write(tmp_path):
    (tmp_path / "p.json").write_text(json.dumps({"dt": 1.0, "pd": 0.9, "sigma": 50.0}))
    with pytest.raises(TrackingInputError, match="missing key.*clutter_density_per_m2"):
        read_params(tmp_path / "p.json")
    (tmp_path / "p.json").write_text(json.dumps(
        {"dt": -1.0, "pd": 0.9, "sigma": 50.0, "clutter_density_per_m2": 0}))
    with pytest.raises(TrackingInputError, match="key dt: invalid value -1.0"):
        read_params(tmp_path / "p.json")
    with gzip.open(tmp_path / "d.csv.gz", "wt") as f:
        f.write("x,time_s,y\n5,0,6\n")
    t, xy = read_detections(tmp_path / "d.csv.gz")
    assert t.tolist() == [0.0] and xy.tolist() == [[5.0, 6.0]]
    write_tracks(tmp_path / "t.csv", np.zeros((0, 6)))
    assert (tmp_path / "t.csv").read_text() == "time_s,track_id,x,y,vx,vy\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv.gz", "p.json", "t.csv"]


def test_cli_rejects_bad_input_with_exit_code_2(tmp_path):
    (tmp_path / "d.csv").write_text("time_s,x\n0,1\n")
    (tmp_path / "p.json").write_text(json.dumps(
        {"dt": 1.0, "pd": 0.9, "sigma": 50.0, "clutter_density_per_m2": 0}))
    r = _cli(str(tmp_path / "d.csv"), "--params", str(tmp_path / "p.json"),
             "--out", str(tmp_path / "t.csv"))
    assert r.exit_code == 2
    assert "missing column(s) y" in r.output
    assert not (tmp_path / "t.csv").exists()


@needs_example
def test_cli_output_is_accepted_by_the_shared_scorer(tmp_path):
    d = _truncated_example(tmp_path, 50)
    r = _cli(str(d / "detections.csv"), "--params", str(d / "params.json"),
             "--out", str(d / "tracks.csv"))
    assert r.exit_code == 0, r.output
    res = subprocess.run([sys.executable, str(SCORE), str(d / "truth.csv"),
                          str(d / "tracks.csv")], capture_output=True, text=True, check=True)
    score = json.loads(res.stdout)
    assert score["times_evaluated"] == 50
    assert score["false_track_ids"] == 0
    assert score["ospa_mean"] < 150.0


@needs_example
def test_same_tracks_as_stonesoup(tmp_path):
    pytest.importorskip("stonesoup")
    spec = importlib.util.spec_from_file_location(
        "bench", Path(__file__).parents[1] / "benchmarks" / "tracking_vs_stonesoup.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    d = _truncated_example(tmp_path, 25)
    times, xy = read_detections(d / "detections.csv")
    p = CartesianParams(dt=1.0, sigma=50.0)
    c = bench.compare(run_tracker(times, xy, p, 25), bench.run_stonesoup(times, xy, p, 25))
    assert c["tracks_a"] == c["tracks_b"] == c["one_to_one"] > 0
    assert c["unpaired_rows"] == 0 and c["max_pos_diff_m"] < 1e-6


def _reference_gnn(n_tracks, n_dets, rows, cols, d, miss):
    """The original formulation: one ``[k, m + k]`` linear_sum_assignment per component."""
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    out = np.full(n_tracks, -1)
    g = coo_matrix((np.ones(len(rows)), (rows, n_tracks + cols)), shape=(n_tracks + n_dets,) * 2)
    label = connected_components(g, directed=False)[1][rows]
    for lab in np.unique(label):
        e = label == lab
        tr, r = np.unique(rows[e], return_inverse=True)
        de, c = np.unique(cols[e], return_inverse=True)
        cost = np.full((tr.size, de.size + tr.size), np.inf)
        cost[r, c] = d[e]
        cost[np.arange(tr.size), de.size + np.arange(tr.size)] = miss
        ri, ci = linear_sum_assignment(cost)
        out[tr[ri[ci < de.size]]] = de[ci[ci < de.size]]
    return out


@pytest.mark.parametrize("seed", range(6))
def test_batched_gnn_equals_per_component_assignment(seed):
    rng = np.random.default_rng(seed)
    n, m, g = 400, 450, 3.0
    tracks = rng.uniform(0, 60, (n, 2))
    dets = np.concatenate([tracks[:300] + rng.normal(0, 0.7, (300, 2)),
                           rng.uniform(0, 60, (150, 2))])
    rows, cols, d = gate_pairs(tracks, np.tile(np.eye(2), (n, 1, 1)), dets, g)
    a = gnn(n, m, rows, cols, d, g)
    ref = _reference_gnn(n, m, rows, cols, d, g)
    assert np.array_equal(a, ref)  # continuous distances: no ties, so the optimum is unique
    assert (a >= 0).sum() > 250


def test_tree_gate_with_mixed_gate_sizes_equals_dense_gate():
    rng = np.random.default_rng(5)
    pos = rng.uniform(-50e3, 50e3, (600, 2))
    z = rng.uniform(-50e3, 50e3, (400, 2))
    scale = rng.choice([50.0, 400.0, 3000.0], 600)  # confirmed-like to new-track-like gates
    L = rng.normal(0, 1, (600, 2, 2)) * scale[:, None, None]
    S = L @ L.transpose(0, 2, 1) + np.eye(2) * 2500
    rows, cols, d = gate_pairs(pos, S, z, 3.0)
    nu = z[None, :, :] - pos[:, None, :]
    d2 = np.einsum("kmi,kij,kmj->km", nu, np.linalg.inv(S), nu)
    r2, c2 = np.nonzero(d2 < 9.0)
    assert r2.size > 20
    assert np.array_equal(rows, r2) and np.array_equal(cols, c2)
    assert np.allclose(d, np.sqrt(d2[r2, c2]))


def _generator():
    spec = importlib.util.spec_from_file_location(
        "make_tracking_scenario",
        Path(__file__).parents[1] / "benchmarks" / "make_tracking_scenario.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_scenario_generator_follows_the_format(tmp_path):
    gen = _generator()
    args = ["--seed", "4", "--n-targets", "80", "--scans", "120", "--clutter-rate", "20",
            "--half-width", "50000"]
    gen.main([*args, "--out", str(tmp_path / "a")])
    gen.main([*args, "--out", str(tmp_path / "b")])
    for name in ("detections.csv", "truth.csv", "params.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    prm = read_params(tmp_path / "a" / "params.json")
    assert prm["clutter_density_per_m2"] == pytest.approx(20 / 1e5**2)
    times, xy = read_detections(tmp_path / "a" / "detections.csv")
    truth = np.loadtxt(tmp_path / "a" / "truth.csv", delimiter=",", skiprows=1)
    assert (tmp_path / "a" / "truth.csv").read_text().startswith("time_s,target_id,x,y,vx,vy\n")
    r = prm["realised"]
    assert len(times) == r["detections_total"] == r["target_detections"] + r["clutter_detections"]
    assert len(truth) == r["truth_rows"] and r["targets_appearing"] <= 80
    assert np.all(np.abs(truth[:, 2:4]) <= 50e3) and np.all(np.abs(xy) <= 50e3 + 400)
    key = truth[:, 0] * 1e6 + truth[:, 1]
    assert np.all(np.diff(key) > 0)  # sorted by (time, id), one row per live target
    speed = np.hypot(truth[:, 4], truth[:, 5])
    assert speed.min() > 40 and speed.max() < 720
    assert 0.85 < r["realised_pd"] < 0.95
    assert abs(r["clutter_detections"] / 120 - 20) < 3
    for tid in np.unique(truth[:, 1]):  # each target live over one unbroken run of scans
        k = truth[truth[:, 1] == tid, 0]
        assert np.all(np.diff(k) == 1.0)
    born_at_0 = np.isin(np.unique(truth[:, 1]), truth[truth[:, 0] == 0, 1]).mean()
    assert 0.15 < born_at_0 < 0.5


def test_tracker_follows_generated_targets(tmp_path):
    gen = _generator()
    gen.main(["--seed", "5", "--n-targets", "40", "--scans", "60", "--clutter-rate", "30",
              "--out", str(tmp_path)])
    times, xy = read_detections(tmp_path / "detections.csv")
    out = run_tracker(times, xy, CartesianParams(dt=1.0, sigma=50.0), 60)
    spec = importlib.util.spec_from_file_location("shared_score", SCORE)
    if not SCORE.exists():
        pytest.skip("shared scorer not available")
    score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(score)
    write_tracks(tmp_path / "tracks.csv", out)
    res = score.score(str(tmp_path / "truth.csv"), str(tmp_path / "tracks.csv"))
    assert res["ospa_mean"] < 200.0  # GNN on 40 crossing, partly turning targets in clutter
    assert res["id_switches"] <= 8 and res["false_track_ids"] <= 4
