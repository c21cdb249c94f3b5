"""Sensing: Swerling-1 Pd, radar equation scaling, horizon masking, noise, clutter, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from iadsim import geo, sensing
from iadsim.params import SensorParams


def make_sensors(n: int = 1, **over: object) -> SensorParams:
    """``n`` identical radars at the origin (20 m mast) unless overridden."""
    base = dict(
        name=tuple(f"r{i}" for i in range(n)),
        type=("test",) * n,
        pos=np.tile([0.0, 0.0, 20.0], (n, 1)),
        ref_range_m=np.full(n, 100_000.0),
        ref_rcs_m2=np.full(n, 1.0),
        max_range_m=np.full(n, 400_000.0),
        miss_range_m=np.full(n, 400_000.0),
        pfa=np.full(n, 1e-6),
        scan_period_s=np.full(n, 2.0),
        clutter_per_scan=np.zeros(n),
        sigma=np.tile([50.0, 2e-3, 2e-3], (n, 1)),
        min_el_rad=np.full(n, -0.05),
        max_el_rad=np.full(n, 1.4),
        latency_s=np.zeros(n),
        loss_prob=np.zeros(n),
    )
    base.update(over)
    return SensorParams(**base)  # type: ignore[arg-type]


def ring(n: int, ground_m: float, height_m: float) -> np.ndarray:
    az = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return np.column_stack([ground_m * np.sin(az), ground_m * np.cos(az), np.full(n, height_m)])


@pytest.mark.parametrize("pfa", [1e-4, 1e-6, 1e-8])
def test_pd_is_one_half_at_reference_range(pfa: float) -> None:
    s = sensing.snr(80_000.0, 2.0, 80_000.0, 2.0, pfa)
    assert sensing.swerling1_pd(s, pfa) == pytest.approx(0.5, abs=1e-12)


def test_pd_monotone_in_range_and_rcs() -> None:
    r = np.linspace(1e3, 5e5, 500)
    pd_r = sensing.swerling1_pd(sensing.snr(r, 1.0, 1e5, 1.0, 1e-6), 1e-6)
    assert np.all(np.diff(pd_r) < 0)
    rcs = np.logspace(-3, 3, 500)
    pd_s = sensing.swerling1_pd(sensing.snr(1e5, rcs, 1e5, 1.0, 1e-6), 1e-6)
    assert np.all(np.diff(pd_s) > 0)
    assert pd_r[-1] > 1e-6  # never below Pfa
    assert sensing.swerling1_pd(sensing.snr(0.0, 1.0, 1e5, 1.0, 1e-6), 1e-6) == 1.0


def test_detection_range_fourth_root_law() -> None:
    assert sensing.detection_range_m(16.0, 100e3, 1.0) == pytest.approx(200e3)
    assert sensing.detection_range_m(0.01, 100e3, 1.0) == pytest.approx(100e3 * 0.01**0.25)
    r50 = sensing.detection_range_m(0.1, 150e3, 5.0)
    pd = sensing.swerling1_pd(sensing.snr(r50, 0.1, 150e3, 5.0, 1e-5), 1e-5)
    assert pd == pytest.approx(0.5)


def test_target_below_horizon_never_detected() -> None:
    sensors = make_sensors(clutter_per_scan=np.zeros(1))
    # Horizon for 20 m mast and 100 m target ~ 4.12 * (4.5 + 10) km ~ 59.6 km.
    pos = np.array([[0.0, 70_000.0, 100.0], [0.0, 40_000.0, 100.0]])
    assert not geo.line_of_sight(sensors.pos[0], pos[0])
    rng = np.random.default_rng(3)
    seen = np.zeros(2, dtype=int)
    for k in range(500):
        det = sensing.sense(
            2.0 * k, np.ones(1, bool), sensors, pos, np.full(2, 1e6), np.ones(2, bool), rng
        )
        seen += np.bincount(det.truth, minlength=2)
    assert seen[0] == 0
    assert seen[1] == 500  # huge RCS above the horizon: always seen


def test_monte_carlo_pd_agrees_with_swerling1() -> None:
    sensors = make_sensors()
    n = 4000
    pos = ring(n, 110_000.0, 3000.0)
    r = geo.radar_polar(sensors.pos[0], pos)[:, 0]
    pd = sensing.swerling1_pd(sensing.snr(r, 1.0, 1e5, 1.0, 1e-6), 1e-6)
    assert np.ptp(pd) < 1e-9
    det = sensing.sense(
        0.0, np.ones(1, bool), sensors, pos, np.ones(n), np.ones(n, bool), np.random.default_rng(4)
    )
    lo, hi = stats.binom.interval(0.99, n, pd[0])
    assert lo <= len(det) <= hi
    assert 0.3 < pd[0] < 0.6


def test_measurement_noise_matches_sigma() -> None:
    sigma = np.array([[30.0, 1e-3, 3e-3]])
    sensors = make_sensors(sigma=sigma)
    n = 3000
    pos = ring(n, 50_000.0, 5000.0)
    det = sensing.sense(
        0.0,
        np.ones(1, bool),
        sensors,
        pos,
        np.full(n, 1e4),
        np.ones(n, bool),
        np.random.default_rng(5),
    )
    assert len(det) == n and np.all(det.truth >= 0)
    truth = geo.radar_polar(sensors.pos[0], pos[det.truth])
    res = det.z - truth
    res[:, 1] = (res[:, 1] + np.pi) % (2 * np.pi) - np.pi
    ss = np.sum((res / sigma) ** 2, axis=0)  # each ~ chi2(n)
    lo, hi = stats.chi2.interval(0.999, n)
    assert np.all((lo <= ss) & (ss <= hi)), ss / n
    assert np.all(np.abs(res.mean(axis=0) / sigma[0]) < 4 / np.sqrt(n))
    assert np.all((det.z[:, 1] >= 0) & (det.z[:, 1] < 2 * np.pi))


def test_clutter_count_and_volume() -> None:
    lam = 7.0
    sensors = make_sensors(
        clutter_per_scan=np.array([lam]),
        max_range_m=np.array([150e3]),
        min_el_rad=np.array([0.0]),
        max_el_rad=np.array([0.5]),
    )
    rng = np.random.default_rng(6)
    scans = 300
    counts = []
    for k in range(scans):
        det = sensing.sense(
            float(k),
            np.ones(1, bool),
            sensors,
            np.zeros((0, 3)),
            np.zeros(0),
            np.zeros(0, bool),
            rng,
        )
        assert np.all(det.truth == -1)
        assert np.all(det.t == float(k))
        assert np.all((det.z[:, 0] >= 0) & (det.z[:, 0] <= 150e3))
        assert np.all((det.z[:, 1] >= 0) & (det.z[:, 1] < 2 * np.pi))
        assert np.all((det.z[:, 2] >= 0) & (det.z[:, 2] <= 0.5))
        counts.append(len(det))
    lo, hi = stats.poisson.interval(0.99, lam * scans)
    assert lo <= sum(counts) <= hi


def test_only_due_sensors_and_determinism() -> None:
    sensors = make_sensors(
        3,
        clutter_per_scan=np.full(3, 2.0),
        pos=np.array([[0.0, 0.0, 20.0], [5e4, 0.0, 20.0], [0.0, 5e4, 20.0]]),
    )
    pos = ring(50, 30_000.0, 2000.0)
    due = np.array([True, False, True])

    def run(seed: int):
        return sensing.sense(
            12.5, due, sensors, pos, np.ones(50), np.ones(50, bool), np.random.default_rng(seed)
        )

    a, b, c = run(7), run(7), run(8)
    assert set(np.unique(a.sensor)) <= {0, 2}
    assert np.all(np.diff(a.sensor) >= 0)
    for f in ("sensor", "t", "z", "truth"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert len(a) != len(c) or not np.array_equal(a.z, c.z)
    none = sensing.sense(
        0.0,
        np.zeros(3, bool),
        sensors,
        pos,
        np.ones(50),
        np.ones(50, bool),
        np.random.default_rng(7),
    )
    assert len(none) == 0 and none.z.shape == (0, 3)


def test_dead_targets_and_out_of_limits_not_detected() -> None:
    sensors = make_sensors(max_range_m=np.array([60e3]), max_el_rad=np.array([0.5]))
    pos = np.array(
        [
            [0.0, 30e3, 3000.0],  # fine but dead
            [0.0, 80e3, 30_000.0],  # beyond instrumented range
            [0.0, 2e3, 10_000.0],  # above max elevation
            [0.0, 30e3, 3000.0],  # fine
        ]
    )
    alive = np.array([False, True, True, True])
    rng = np.random.default_rng(9)
    truths = np.concatenate(
        [
            sensing.sense(0.0, np.ones(1, bool), sensors, pos, np.full(4, 1e6), alive, rng).truth
            for _ in range(50)
        ]
    )
    np.testing.assert_array_equal(np.unique(truths), [3])


def reference_sense(t, due, sensors, pos, rcs, alive, rng) -> tuple[np.ndarray, ...]:
    """The documented procedure, sensor by sensor (as sense was first written)."""
    n = pos.shape[0]
    zs, truths, ids = [np.zeros((0, 3))], [np.zeros(0, dtype=np.int64)], [np.zeros(0, np.int64)]
    for s in np.flatnonzero(due):
        radar = sensors.pos[s]
        zt = geo.radar_polar(radar, pos)
        cand = (
            alive
            & geo.line_of_sight(radar, pos)
            & (zt[:, 0] <= sensors.max_range_m[s])
            & (zt[:, 2] >= sensors.min_el_rad[s])
            & (zt[:, 2] <= sensors.max_el_rad[s])
        )
        pfa = sensors.pfa[s]
        snr = sensing.snr(zt[:, 0], rcs, sensors.ref_range_m[s], sensors.ref_rcs_m2[s], pfa)
        pd = np.where(cand, sensing.swerling1_pd(snr, pfa), 0.0)
        hit = rng.random(n) < pd
        noise = rng.standard_normal((n, 3)) * sensors.sigma[s]
        z = zt[hit] + noise[hit]
        z[:, 0] = np.abs(z[:, 0])
        z[:, 1] = geo.wrap_azimuth(z[:, 1])
        n_clutter = int(rng.poisson(sensors.clutter_per_scan[s]))
        u01 = rng.random((n_clutter, 3))
        lo = np.array([0.0, 0.0, sensors.min_el_rad[s]])
        hi = np.array([sensors.max_range_m[s], 2 * np.pi, sensors.max_el_rad[s]])
        zc = lo + u01 * (hi - lo)
        zc[:, 1] = geo.wrap_azimuth(zc[:, 1])
        zs += [z, zc]
        truths += [np.flatnonzero(hit), np.full(n_clutter, -1, dtype=np.int64)]
        ids.append(np.full(z.shape[0] + n_clutter, s, dtype=np.int64))
    z_all = np.concatenate(zs)
    return np.concatenate(ids), np.full(len(z_all), float(t)), z_all, np.concatenate(truths)


@pytest.mark.parametrize("seed", range(40))
def test_sense_matches_the_documented_procedure_bit_for_bit(seed: int) -> None:
    # Same plots, same order, and the same draws from the stream (its state afterwards).
    rng = np.random.default_rng(seed)
    n_s, n = int(rng.integers(1, 8)), int(rng.integers(0, 50))
    sensors = make_sensors(
        n_s,
        pos=np.column_stack([rng.uniform(-1e5, 1e5, (n_s, 2)), rng.uniform(0, 40, n_s)]),
        ref_range_m=rng.uniform(2e4, 3e5, n_s),
        max_range_m=rng.uniform(3e4, 5e5, n_s),
        pfa=10.0 ** -rng.uniform(4, 8, n_s),
        clutter_per_scan=rng.choice([0.0, 0.5, 3.0, 20.0], n_s),
        sigma=rng.uniform([5, 1e-4, 1e-4], [100, 3e-3, 3e-3], (n_s, 3)),
        min_el_rad=rng.choice([-0.05, 0.0], n_s),
        max_el_rad=rng.choice([0.5, 1.4], n_s),
    )
    pos = rng.uniform([-3e5, -3e5, -100], [3e5, 3e5, 2e4], (n, 3))
    rcs, alive, due = rng.uniform(1e-3, 10, n), rng.random(n) < 0.8, rng.random(n_s) < 0.7
    r_new, r_ref = np.random.default_rng(seed + 100), np.random.default_rng(seed + 100)
    det = sensing.sense(3.5, due, sensors, pos, rcs, alive, r_new)
    want = reference_sense(3.5, due, sensors, pos, rcs, alive, r_ref)
    for got, exp in zip((det.sensor, det.t, det.z, det.truth), want, strict=True):
        np.testing.assert_array_equal(got, exp)
        assert got.dtype == exp.dtype and got.shape == exp.shape
    assert r_new.bit_generator.state == r_ref.bit_generator.state


def test_unresolved_targets_give_one_plot() -> None:
    # Resolution cell 60 m x 3 mrad x 3 mrad; Pd ~ 1 (large RCS, short range), no noise.
    sensors = make_sensors(sigma=np.zeros((1, 3)), resolution=np.array([[60.0, 3e-3, 3e-3]]))
    radar = sensors.pos[0]
    base = np.array([0.0, 10_000.0, 1000.0])
    # 0-1-2: a chain 40 m apart in range (each pair within the cell: one group, transitive);
    # 3: 200 m further (resolved); 4: same range as 0 but 30 mrad off in azimuth (resolved).
    pos = np.array([base, base + [0, 40, 0], base + [0, 80, 0], base + [0, 280, 0],
                    [300.0, 10_000.0, 1000.0]])
    det = sensing.sense(0.0, np.ones(1, bool), sensors, pos, np.full(5, 100.0),
                        np.ones(5, bool), np.random.default_rng(0))
    np.testing.assert_array_equal(det.truth, [0, 3, 4])
    truth_polar = geo.radar_polar(radar, pos)
    np.testing.assert_allclose(det.z[0], truth_polar[:3].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(det.z[1:], truth_polar[3:], rtol=1e-12)


def test_resolution_off_or_wide_spacing_changes_nothing() -> None:
    rng_pos = np.random.default_rng(3)
    pos = rng_pos.uniform([-5e4, -5e4, 500], [5e4, 5e4, 8000], (200, 3))
    args = (np.ones(1, bool),)
    plain = sensing.sense(0.0, *args, make_sensors(), pos, np.ones(200), np.ones(200, bool),
                          np.random.default_rng(1))
    tiny = make_sensors(resolution=np.array([[1e-3, 1e-9, 1e-9]]))
    fine = sensing.sense(0.0, *args, tiny, pos, np.ones(200), np.ones(200, bool),
                         np.random.default_rng(1))
    np.testing.assert_array_equal(plain.z, fine.z)
    np.testing.assert_array_equal(plain.truth, fine.truth)


@pytest.mark.parametrize("n_edges", [0, 5, 40, 600])
def test_groups_are_the_connected_components(n_edges: int) -> None:
    # Union-find (few edges) and the sparse path (many) against a plain flood fill.
    rng = np.random.default_rng(n_edges)
    k = 300
    i, j = rng.integers(0, k, n_edges), rng.integers(0, k, n_edges)
    label = sensing._groups(k, i, j)
    adj = [set() for _ in range(k)]
    for a, b in zip(i.tolist(), j.tolist(), strict=True):
        adj[a].add(b)
        adj[b].add(a)
    want = np.full(k, -1)
    for s in range(k):
        if want[s] < 0:
            stack, comp = [s], []
            want[s] = s
            while stack:
                x = stack.pop()
                comp.append(x)
                for y in adj[x]:
                    if want[y] < 0:
                        want[y] = s
                        stack.append(y)
    np.testing.assert_array_equal(label, want)


def test_merging_is_the_same_by_window_and_by_tree() -> None:
    # A ring of targets at one range (the tree path) and the same ring spread in range (the
    # window path) group exactly as a brute-force pairwise test says.
    rng = np.random.default_rng(5)
    res = np.array([[60.0, 3e-3, 3e-3]])
    for spread in (0.0, 3000.0):
        az = np.sort(rng.uniform(0, 0.5, 400))
        r = 20_000.0 + rng.uniform(0, spread, 400)
        zt = np.column_stack([r, az, np.full(400, 0.05)])
        z = zt + rng.normal(0, 1.0, zt.shape)
        keep = sensing.merge_unresolved(zt.copy(), z, np.zeros(400, np.int64), res)
        u = zt / res[0]
        close = (np.abs(u[:, None] - u[None]) <= 1.0).all(axis=2)
        want = sensing._groups(400, *np.nonzero(np.triu(close, 1)))
        np.testing.assert_array_equal(keep, want == np.arange(400))
