"""Intervals against closed forms, textbook values and their coverage; summary rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from iadsim.stats import (
    SUMMARY_COLUMNS,
    bootstrap_interval,
    mean_interval,
    summarize,
    wilson_interval,
)

Z95 = 1.959963984540054


def wilson_by_quadratic(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson bounds as the roots of (p_hat - p)^2 = z^2 p (1 - p) / n, solved for p."""
    ph = k / n
    a = 1 + z * z / n
    b = -(2 * ph + z * z / n)
    c = ph * ph
    disc = math.sqrt(b * b - 4 * a * c)
    return (-b - disc) / (2 * a), (-b + disc) / (2 * a)


@pytest.mark.parametrize("k", [0, 1, 5, 9, 10])
def test_wilson_matches_quadratic_closed_form(k):
    lo, hi = wilson_interval(k, 10)
    elo, ehi = wilson_by_quadratic(k, 10)
    assert lo == pytest.approx(elo, abs=1e-12)
    assert hi == pytest.approx(ehi, abs=1e-12)


def test_wilson_edge_values():
    z2 = Z95**2
    assert wilson_interval(0, 10) == pytest.approx((0.0, (z2 / 10) / (1 + z2 / 10)), abs=1e-12)
    assert wilson_interval(10, 10) == pytest.approx((1 / (1 + z2 / 10), 1.0), abs=1e-12)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_textbook_value():
    # 81 successes in 263 trials: Wilson 95% (0.2553, 0.3662) (Newcombe 1998, Wikipedia example)
    lo, hi = wilson_interval(81, 263)
    assert lo == pytest.approx(0.2553, abs=1e-4)
    assert hi == pytest.approx(0.3662, abs=1e-4)


def test_wilson_confidence_widens_interval():
    lo90, hi90 = wilson_interval(30, 100, 0.90)
    lo99, hi99 = wilson_interval(30, 100, 0.99)
    assert lo99 < lo90 < 0.3 < hi90 < hi99


def test_wilson_vectorised_matches_scalar():
    k = np.array([0, 3, 7, 20, 0])
    n = np.array([5, 10, 7, 50, 0])
    lo, hi = wilson_interval(k, n)
    assert lo.shape == hi.shape == (5,)
    for i in range(5):
        assert (lo[i], hi[i]) == pytest.approx(wilson_interval(int(k[i]), int(n[i])), abs=1e-15)


@pytest.mark.parametrize("k,n", [(-1, 5), (6, 5)])
def test_wilson_rejects_impossible_counts(k, n):
    with pytest.raises(ValueError):
        wilson_interval(k, n)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=100_000),
    frac=st.floats(min_value=0.0, max_value=1.0),
    conf=st.floats(min_value=0.5, max_value=0.999),
)
def test_wilson_inside_unit_interval_and_contains_phat(n, frac, conf):
    k = int(round(frac * n))
    lo, hi = wilson_interval(k, n, conf)
    assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_wilson_coverage_near_nominal():
    rng = np.random.default_rng(1)
    p, n = 0.3, 60
    k = rng.binomial(n, p, size=4000)
    lo, hi = wilson_interval(k, np.full_like(k, n))
    coverage = np.mean((lo <= p) & (p <= hi))
    assert 0.93 <= coverage <= 0.97


def test_mean_interval_matches_scipy_t():
    x = np.array([1.2, 2.3, 0.7, 3.1, 2.2, np.nan])
    v = x[~np.isnan(x)]
    m, lo, hi = mean_interval(x)
    elo, ehi = sps.t.interval(0.95, df=len(v) - 1, loc=v.mean(), scale=sps.sem(v))
    assert m == pytest.approx(v.mean())
    assert (lo, hi) == pytest.approx((elo, ehi), rel=1e-12)


def test_mean_interval_degenerate_samples():
    assert mean_interval([np.nan, 4.0]) == (4.0, 4.0, 4.0)
    assert mean_interval([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    assert all(np.isnan(mean_interval([np.nan, np.nan])))
    assert all(np.isnan(mean_interval([])))


def test_mean_interval_coverage_near_nominal():
    rng = np.random.default_rng(2)
    samples = rng.exponential(3.0, size=(3000, 40))
    hits = 0
    for s in samples:
        _, lo, hi = mean_interval(s)
        hits += lo <= 3.0 <= hi
    assert 0.92 <= hits / len(samples) <= 0.97


def test_bootstrap_deterministic_and_contains_estimate():
    x = np.random.default_rng(3).gamma(2.0, 1.5, size=200)
    a = bootstrap_interval(x, rng=np.random.default_rng(42))
    b = bootstrap_interval(x, rng=np.random.default_rng(42))
    c = bootstrap_interval(x, rng=7)
    assert a == b
    assert a != c
    est, lo, hi = a
    assert est == pytest.approx(x.mean())
    assert lo < est < hi
    # percentile bootstrap of a mean is close to the t interval for n = 200
    _, tlo, thi = mean_interval(x)
    assert lo == pytest.approx(tlo, rel=0.05) and hi == pytest.approx(thi, rel=0.05)


def test_bootstrap_ratio_of_sums_over_rows():
    rng = np.random.default_rng(4)
    num = rng.uniform(1, 3, size=100)
    den = rng.uniform(2, 4, size=100)

    def ratio(a):
        return a[:, 0].sum() / a[:, 1].sum()

    est, lo, hi = bootstrap_interval(np.column_stack([num, den]), ratio, rng=0)
    assert est == pytest.approx(num.sum() / den.sum())
    assert lo < est < hi


def test_bootstrap_empty_and_single():
    assert all(np.isnan(bootstrap_interval([], rng=0)))
    assert bootstrap_interval([5.0], rng=0) == (5.0, 5.0, 5.0)


def make_per_run() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run": [0, 1, 2, 3],
            "threats": [10, 10, 10, 10],
            "leakers": [0, 2, 1, 0],
            "kills": [10, 8, 9, 10],
            "interceptors_spent": [14, 12, 13, 11],
            "interceptor_cost_usd": [14e6, 12e6, 13e6, 11e6],
            "threat_cost_destroyed_usd": [5e6, 4e6, 4.5e6, 5e6],
            "cost_exchange": [2.8, 3.0, 13 / 4.5, 2.2],
            "assets_hit": [0, 1, 1, 0],
            "asset_value_lost": [0.0, 50e6, 20e6, 0.0],
            "first_leak_s": [np.nan, 120.0, 180.0, np.nan],
            "threats.cruise": [6, 6, 6, 6],
            "threats.drone": [4, 4, 4, 4],
            "leakers.cruise": [0, 1, 1, 0],
            "leakers.drone": [0, 1, 0, 0],
            "kills.battery_a": [6, 5, 5, 6],
            "kills.battery_b": [4, 3, 4, 4],
            "spent.sam_long": [8, 7, 8, 6],
            "spent.sam_short": [6, 5, 5, 5],
            "hit.airbase": [0, 1, 0, 0],
            "hit.port": [0, 0, 1, 0],
        }
    )


def test_summarize_rows_and_pooled_rates():
    pr = make_per_run()
    s = summarize(pr)
    assert tuple(s.columns) == SUMMARY_COLUMNS
    assert list(s["metric"]) == [
        "leak_rate",
        "p_any_leak",
        "leakers",
        "kills",
        "interceptors_spent",
        "interceptor_cost_usd",
        "assets_hit",
        "asset_value_lost",
        "first_leak_s",
        "cost_exchange",
        "leak_rate.cruise",
        "leak_rate.drone",
        "kills.battery_a",
        "kills.battery_b",
        "spent.sam_long",
        "spent.sam_short",
        "p_hit.airbase",
        "p_hit.port",
    ]
    row = s.set_index("metric")
    assert row.loc["leak_rate", "estimate"] == 3 / 40
    assert row.loc["leak_rate", "n"] == 40
    assert (row.loc["leak_rate", "lo"], row.loc["leak_rate", "hi"]) == wilson_interval(3, 40)
    assert row.loc["p_any_leak", "estimate"] == 0.5 and row.loc["p_any_leak", "n"] == 4
    assert row.loc["leak_rate.cruise", "estimate"] == 2 / 24
    assert row.loc["leak_rate.drone", "estimate"] == 1 / 16
    assert row.loc["leakers", "estimate"] == pytest.approx(0.75)
    assert row.loc["first_leak_s", "estimate"] == pytest.approx(150.0)
    assert row.loc["first_leak_s", "n"] == 2
    assert row.loc["cost_exchange", "estimate"] == pytest.approx(50e6 / 18.5e6)
    assert row.loc["cost_exchange", "method"] == "bootstrap"
    lo, hi = row.loc["cost_exchange", ["lo", "hi"]]
    assert lo <= row.loc["cost_exchange", "estimate"] <= hi
    assert row.loc["kills.battery_b", "estimate"] == pytest.approx(3.75)
    assert row.loc["spent.sam_long", "method"] == "t"
    assert row.loc["p_hit.airbase", "estimate"] == 0.25 and row.loc["p_hit.port", "n"] == 4
    assert s.attrs["confidence"] == 0.95
    for _, r in s.iterrows():
        if np.isfinite(r["lo"]):
            assert r["lo"] <= r["estimate"] + 1e-12 <= r["hi"] + 2e-12


def test_summarize_is_deterministic():
    pr = make_per_run()
    pd.testing.assert_frame_equal(summarize(pr), summarize(pr))


def test_summarize_without_leaks_or_breakdowns():
    pr = make_per_run()[
        ["run", "threats", "kills", "interceptors_spent", "interceptor_cost_usd", "assets_hit"]
    ].assign(leakers=0, threat_cost_destroyed_usd=0.0, first_leak_s=np.nan)
    s = summarize(pr).set_index("metric")
    assert len(s) == 10
    assert s.loc["leak_rate", "estimate"] == 0.0
    assert s.loc["leak_rate", "lo"] == 0.0 and 0 < s.loc["leak_rate", "hi"] < 0.1
    assert np.isnan(s.loc["first_leak_s", "estimate"]) and s.loc["first_leak_s", "n"] == 0
    assert np.isnan(s.loc["cost_exchange", "estimate"])  # nothing destroyed
    assert np.isnan(s.loc["asset_value_lost", "estimate"])  # column missing
    assert s.loc["asset_value_lost", "n"] == 0


def test_summarize_empty_table():
    s = summarize(pd.DataFrame(columns=["run", "threats", "leakers"]))
    assert list(s["metric"])[:2] == ["leak_rate", "p_any_leak"]
    assert s.loc[0, "n"] == 0 and np.isnan(s.loc[0, "estimate"])
