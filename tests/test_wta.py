"""Static WTA: brute force against the solvers and bounds, the file format, the CLI."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from iadsim.assignment.bound import brute_force, lagrangian_bound, lower_bound, milp
from iadsim.assignment.colgen import (
    ColumnPool,
    Pricer,
    column_generation,
    integer_master,
    lagrangian_bound_at,
    price,
    reduced_cost_keep,
    solve_master_lp,
)
from iadsim.assignment.master import MasterLP
from iadsim.assignment.pricebranch import certified, price_and_branch
from iadsim.assignment.rounding import round_master
from iadsim.assignment.search import greedy, ils
from iadsim.assignment.solvers import SOLVERS, solve
from iadsim.assignment.wta import (
    WTAFormatError,
    WTAInstance,
    evaluate_shots,
    objective,
    read_instance,
    read_solution,
    write_solution,
)
from iadsim.cli import app

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "wta"
SOLUTIONS = ROOT / "benchmarks" / "wta_solutions"


@st.composite
def tiny(draw, identical: bool = False) -> WTAInstance:
    m = draw(st.integers(1, 3))
    n = draw(st.integers(1, 3))
    prob = st.floats(0.0, 1.0, allow_nan=False)
    if identical:
        row = [draw(prob) for _ in range(n)]
        p = np.array([row] * m)
    else:
        p = np.array([[draw(prob) for _ in range(n)] for _ in range(m)])
    w = np.array([draw(st.integers(0, 20)) for _ in range(n)], dtype=float)
    mu = np.array([draw(st.integers(0, 2)) for _ in range(m)])
    return WTAInstance(values=w, p=p, mu=mu)


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(tiny())
def test_solvers_against_brute_force(inst: WTAInstance):
    opt, _ = brute_force(inst)
    g = objective(inst, greedy(inst))
    tol = 1e-9 * max(opt, 1.0)
    for name, spec in SOLVERS.items():
        sol = solve(inst, name, time_limit=2.0 if spec.exact else 0.05, seed=1)
        inst.check(sol.x)
        assert sol.objective >= opt - tol
        assert evaluate_shots(inst, sol.shots()) == pytest.approx(sol.objective, rel=1e-12,
                                                                  abs=1e-12)
        if spec.exact:
            assert sol.objective <= opt + 1e-6 * max(opt, 1.0)
        if spec.bound:
            assert sol.lower_bound <= opt + tol
        if name == "ils":
            assert sol.objective <= g + tol
    assert lagrangian_bound(inst, opt, None, time_limit=0.05) <= opt + tol
    assert lower_bound(inst, 0.5, opt) <= opt + tol


@FAST
@given(tiny(identical=True))
def test_greedy_optimal_for_identical_weapons(inst: WTAInstance):
    opt, _ = brute_force(inst)
    assert objective(inst, greedy(inst)) <= opt + 1e-9 * max(opt, 1.0)


def test_ils_deterministic_for_seed_and_iteration_limit():
    rng = np.random.default_rng(7)
    inst = WTAInstance(values=rng.integers(1, 100, 40).astype(float),
                       p=rng.uniform(0.05, 0.95, (20, 40)), mu=np.full(20, 3))
    a = ils(inst, time_limit=60.0, seed=3, max_iter=15)
    b = ils(inst, time_limit=60.0, seed=3, max_iter=15)
    assert a.iterations == b.iterations == 15
    assert np.array_equal(a.x, b.x) and a.objective == b.objective
    inst.check(a.x)
    assert a.objective <= objective(inst, greedy(inst))


def _per_target_values(inst: WTAInstance, pi: np.ndarray, j: int) -> dict[tuple, float]:
    import itertools

    out = {}
    for x in itertools.product(*[range(int(u) + 1) for u in inst.mu]):
        xv = np.array(x)
        out[x] = float(inst.values[j] * np.prod((1.0 - inst.p[:, j]) ** xv) + pi @ xv)
    return out


@FAST
@given(tiny(), st.lists(st.floats(0.0, 30.0), min_size=3, max_size=3),
       st.sampled_from([0.0, 0.5, 5.0]))
def test_pricing_exact_and_enumeration_complete(inst: WTAInstance, prices, slack: float):
    """Pricing finds each target's minimum of w prod q^x + pi.x exactly, and with a slack lists
    every multiset within it (up to multisets dominated by a listed one)."""
    pi = np.array(prices[:inst.m])
    pr = price(inst.p, inst.values, inst.mu, pi, keep=1, slack=slack)
    assert pr.exact.all()
    for j in range(inst.n):
        vals = _per_target_values(inst, pi, j)
        best = min(vals.values())
        assert pr.g[j] == pytest.approx(best, rel=1e-9, abs=1e-9)
        got = {tuple(np.bincount(w, weights=k, minlength=inst.m).astype(int))
               for t, w, k, _, _ in pr.cols if t == j} | {(0,) * inst.m}
        for x, v in vals.items():
            if slack > 0 and v <= best + slack - 1e-9:
                assert any(all(a <= b for a, b in zip(y, x, strict=True))
                           and vals[y] <= v + 1e-9 for y in got), (j, x)


@FAST
@given(tiny(), st.lists(st.floats(0.0, 30.0), min_size=3, max_size=3))
def test_lagrangian_bound_valid_for_any_prices(inst: WTAInstance, prices):
    opt, _ = brute_force(inst)
    pi = np.array(prices[:inst.m])
    value, _ = lagrangian_bound_at(inst.p, inst.values, inst.mu, pi)
    assert value <= opt + 1e-9 * max(opt, 1.0)
    assert certified(inst, value, pi) <= opt


def test_price_and_branch_proves_optimum_and_is_deterministic():
    """On a 12x24x3 instance the reduced-cost enumeration closes the gap (the certified bound
    meets the objective), agrees with the exact tangent MILP, and repeats exactly."""
    rng = np.random.default_rng(5)
    inst = WTAInstance(values=rng.integers(1, 101, 24).astype(float),
                       p=rng.uniform(0.0, 1.0, (12, 24)), mu=np.full(12, 3))
    a = price_and_branch(inst, time_limit=60.0, seed=2)
    b = price_and_branch(inst, time_limit=60.0, seed=2)
    inst.check(a.x)
    assert np.array_equal(a.x, b.x) and a.objective == b.objective
    assert a.lower_bound <= a.objective
    assert a.lower_bound >= a.objective * (1.0 - 1e-5)  # closed up to the HiGHS tolerance
    assert a.objective <= objective(inst, greedy(inst))
    exact = milp(inst, time_limit=30.0, exact_points=10**6)
    assert exact.lower_bound <= a.objective + 1e-9
    assert a.objective <= exact.objective * (1.0 + 1e-9)


def _mid_instance(seed: int, m: int = 15, n: int = 30, mu: int = 3) -> WTAInstance:
    rng = np.random.default_rng(seed)
    return WTAInstance(values=rng.integers(1, 101, n).astype(float),
                       p=rng.uniform(0.0, 0.9, (m, n)), mu=np.full(m, mu))


def test_warm_master_matches_cold_linprog_and_rounding_is_feasible():
    """The warm-started HiGHS master gives the cold linprog's LP value after every batch of
    new columns; rounding its solution gives a feasible assignment no worse than greedy."""
    inst = _mid_instance(3)
    mr = column_generation(inst.p, inst.values, inst.mu, greedy(inst), time_limit=30.0,
                           max_rounds=4)
    pool = mr.pool
    part = ColumnPool(pool.m, pool.n)
    warm = MasterLP(part, inst.mu)
    rows, cols, cnt = (np.asarray(a, np.int64) for a in (pool.rows, pool.cols, pool.cnt))
    for cut in (inst.n + 5, len(pool)):  # two syncs: part of the pool, then the rest
        for c in range(len(part), cut):
            sl = cols == c
            part.add(pool.target[c], rows[sl], cnt[sl], pool.cost[c])
        value, y, pi, _ = warm.solve()
        assert value == pytest.approx(solve_master_lp(part, inst.mu)[0], rel=1e-7)
        assert (pi >= 0).all() and y.size == len(part)
    x = round_master(inst, pool, mr.y, np.random.default_rng(0))
    inst.check(x)
    assert objective(inst, x) <= objective(inst, greedy(inst)) * (1.0 + 1e-12)


@FAST
@given(st.integers(0, 10_000))
def test_reduced_cost_fixing_keeps_every_better_selection(seed: int):
    """With any duals (here: LP duals, perturbed), every column of an integer master solution
    cheaper than the cut-off survives the reduced-cost filter."""
    inst = _mid_instance(seed, m=4, n=5, mu=2)
    mr = column_generation(inst.p, inst.values, inst.mu, greedy(inst), time_limit=30.0,
                           max_rounds=3)
    pool = mr.pool
    _, _, pi, sigma = MasterLP(pool, inst.mu).solve()
    rng = np.random.default_rng(seed)
    pi = pi * rng.uniform(0.5, 1.5, pi.size)
    x, _, _ = integer_master(pool, inst.mu, 5.0, inst.p.shape)
    best = objective(inst, x)
    keep = reduced_cost_keep(pool, pi, sigma, inst.mu, best * 1.0001)
    y, _, _ = integer_master(pool, inst.mu, 5.0, inst.p.shape, keep)
    assert objective(inst, y) == pytest.approx(best, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pricing_with_master_duals_returns_exactly_the_improving_columns(seed: int):
    """Given the master LP's duals, pricing returns the columns it would return without them
    whose reduced cost there is negative, and only those; the minima g are unchanged."""
    inst = _mid_instance(seed)
    mr = column_generation(inst.p, inst.values, inst.mu, greedy(inst), time_limit=30.0,
                           max_rounds=2)
    pi_lp, sigma = mr.duals
    pi = 0.5 * mr.pi + 0.5 * pi_lp
    pricer = Pricer(inst.p, inst.values, inst.mu)
    plain, filtered = pricer(pi, keep=5), pricer(pi, keep=5, duals=(pi_lp, sigma))
    assert np.array_equal(plain.g, filtered.g)

    def rc(col):
        j, w, k, val, _ = col
        return val + float(pi_lp[w] @ k) - sigma[j]

    def key(col):
        return (col[0], tuple(col[1]), tuple(col[2]))

    want = {key(c) for c in plain.cols if rc(c) < -1e-9 * max(1.0, abs(sigma[c[0]]))}
    assert {key(c) for c in filtered.cols} == want
    assert want  # after two rounds the LP is not optimal yet: some column improves


def test_integer_master_from_a_start_is_never_worse_and_feasible():
    """Started from a feasible selection, the integer master returns one at least as good
    within the capacities, even with almost no time."""
    inst = _mid_instance(4, m=20, n=40)
    mr = column_generation(inst.p, inst.values, inst.mu, greedy(inst), time_limit=30.0,
                           max_rounds=3)
    x0 = greedy(inst)
    start = mr.pool.add_assignment(inst.p, inst.values, x0)
    assert start.sum() == inst.n
    for limit in (0.0, 5.0):
        x, dual, _ = integer_master(mr.pool, inst.mu, limit, inst.p.shape, None, start)
        inst.check(x)
        assert objective(inst, x) <= objective(inst, x0) * (1.0 + 1e-12)
        assert dual <= objective(inst, x) * (1.0 + 1e-9)


def test_milp_bound_on_random_instance_is_below_heuristic():
    rng = np.random.default_rng(2)
    inst = WTAInstance(values=rng.integers(1, 100, 12).astype(float),
                       p=rng.uniform(0.05, 0.95, (6, 12)), mu=np.full(6, 2))
    h = ils(inst, time_limit=0.5, seed=0)
    m = milp(inst, time_limit=5.0)
    assert m.lower_bound <= h.objective + 1e-9
    assert m.lower_bound <= m.objective


def _write(path: Path, text: str, gz: bool = False) -> Path:
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


GOOD = "2 2 1\n5\n7\n0 0 0.5\n0 1 0.25\n1 0 0.1\n1 1 0.9\n"


def test_reader_plain_and_gzip(tmp_path: Path):
    for gz in (False, True):
        inst = read_instance(_write(tmp_path / f"a.txt{'.gz' if gz else ''}", GOOD, gz))
        assert inst.m == 2 and inst.n == 2 and list(inst.mu) == [1, 1]
        assert inst.p[1, 1] == 0.9 and inst.values[1] == 7


@pytest.mark.parametrize(("text", "line", "words"), [
    ("2 2\n", 1, "header"),
    ("2 2 1\n5\n7\n0 0 0.5\n0 1 0.25\n1 0 0.1\n1 1\n", 7, "3 fields"),
    ("2 2 1\n5\n7\n0 0 0.5\n0 1 1.5\n1 0 0.1\n1 1 0.9\n", 5, "[0, 1]"),
    ("2 2 1\n5\n7\n0 0 nan\n0 1 0.5\n1 0 0.1\n1 1 0.9\n", 4, "[0, 1]"),
    ("2 2 1\n-5\n7\n0 0 0.5\n0 1 0.25\n1 0 0.1\n1 1 0.9\n", 2, ">= 0"),
    ("2 2 1\n5\n7\n0 0 0.5\n0 1 abc\n1 0 0.1\n1 1 0.9\n", 5, "not a number"),
    ("2 2 1\n5\n7\n0 0 0.5\n0 0 0.25\n1 0 0.1\n1 1 0.9\n", 5, "twice"),
    ("2 2 1\n5\n7\n0 0 0.5\n0 1 0.25\n1 0 0.1\n", None, "found"),
])
def test_reader_errors_name_file_and_line(tmp_path: Path, text: str, line: int | None,
                                          words: str):
    path = _write(tmp_path / "bad.txt", text)
    with pytest.raises(WTAFormatError) as e:
        read_instance(path)
    msg = str(e.value)
    assert str(path) in msg and words in msg
    if line is not None:
        assert f"line {line}" in msg


def test_cli_solve_roundtrip_and_bad_input(tmp_path: Path):
    runner = CliRunner()
    inst_path = _write(tmp_path / "a.txt", GOOD)
    out = tmp_path / "sol.json"
    r = runner.invoke(app, ["wta", "solve", str(inst_path), "--time-limit", "0.5",
                            "--out", str(out), "--seed", "1"])
    assert r.exit_code == 0, r.output
    data, value = read_solution(out, read_instance(inst_path))
    assert set(data) == {"instance", "objective", "lower_bound", "solver", "shots"}
    assert value == pytest.approx(data["objective"], rel=1e-12)
    assert data["lower_bound"] <= data["objective"] + 1e-12
    bad = _write(tmp_path / "bad.txt", GOOD.replace("0 1 0.25", "0 1 2.5"))
    out2 = tmp_path / "sol2.json"
    r = runner.invoke(app, ["wta", "solve", str(bad), "--out", str(out2)])
    assert r.exit_code == 2 and "line 5" in r.output and "bad.txt" in r.output
    assert not out2.exists()
    r = runner.invoke(app, ["wta", "solve", str(inst_path), "--solver", "nope"])
    assert r.exit_code == 2 and "valid" in r.output


def test_write_solution_roundtrip(tmp_path: Path):
    rng = np.random.default_rng(0)
    inst = WTAInstance(values=rng.integers(1, 100, 30).astype(float),
                       p=rng.uniform(0, 1, (10, 30)), mu=np.full(10, 2))
    sol = ils(inst, time_limit=0.3, seed=0)
    write_solution(tmp_path / "s.json", inst, sol)
    _, value = read_solution(tmp_path / "s.json", inst)
    assert value == pytest.approx(sol.objective, rel=1e-12)
    with pytest.raises(ValueError, match="capacity"):
        evaluate_shots(inst, [[0, 0, 3]])


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/wta not next to the checkout")
@pytest.mark.parametrize("path", sorted(SOLUTIONS.glob("*.json")), ids=lambda p: p.stem)
def test_shipped_solutions_beat_best_known(path: Path):
    import csv

    with (SHARED / "best_known.csv").open(newline="", encoding="utf-8") as f:
        best = {r["instance"]: float(r["best_ub_ba"]) for r in csv.DictReader(f)}
    name = json.loads(path.read_text())["instance"]
    inst = read_instance(SHARED / "instances" / f"{name}.txt.gz")
    data, value = read_solution(path, inst)
    assert value < best[name] - 1e-6  # beyond the 6-decimal rounding of best_known.csv
    assert value == pytest.approx(data["objective"], rel=1e-12)
    assert data["lower_bound"] is None or data["lower_bound"] <= value


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/wta not next to the checkout")
def test_benchmark_script_counts_repeated_runs(tmp_path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("wta_bench", ROOT / "benchmarks" / "wta.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    md = tmp_path / "wta.md"
    assert bench.main([str(SHARED), "--limits", "0.3", "--repeat", "2",
                       "--only", "wta_50x100x1", "--markdown", str(md)]) == 0
    head, _, row = md.read_text().splitlines()
    assert head.split(" | ")[-2:] == ["runs within 0.1% at 0.3 s", "worst gap % at 0.3 s |"]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "wta_50x100x1" and cells[-2] == "2/2"  # solved to optimality
    assert float(cells[-1]) <= 0.1
    with pytest.raises(SystemExit):
        bench.main([str(SHARED), "--repeat", "0"])


def test_restricted_master_ladder_is_a_heuristic_only():
    """With or without the restricted masters, enough time gives the same proved optimum."""
    rng = np.random.default_rng(5)
    inst = WTAInstance(values=rng.uniform(1, 10, 12), p=rng.uniform(0.05, 0.6, (6, 12)),
                       mu=np.full(6, 2))
    with_ladder = price_and_branch(inst, time_limit=5.0)
    full_only = price_and_branch(inst, time_limit=5.0, restrict=())
    assert with_ladder.objective == pytest.approx(full_only.objective, rel=1e-12)
    for sol in (with_ladder, full_only):
        inst.check(sol.x)  # raises on an infeasible assignment
        assert sol.lower_bound <= sol.objective
        assert sol.objective - sol.lower_bound <= 1e-5 * sol.objective
