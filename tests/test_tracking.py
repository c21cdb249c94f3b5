"""Tracking: Kalman filter, gating/GNN and the track-file step (behaviour, not snapshots)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from iadsim import geo, sensing
from iadsim.params import SensorParams, TrackerParams
from iadsim.state import TRACK_CONFIRMED, TRACK_FREE, TRACK_TENTATIVE, Tracks
from iadsim.tracking import (
    convert_measurements,
    gate_costs,
    gnn,
    predict,
    tracker_step,
    update,
)

RADAR = np.array([0.0, 0.0, 20.0])
MAX_RANGE = 400e3
PARAMS = TrackerParams(
    accel_sigma_mps2=1.0,
    gate_prob=0.999,
    confirm_m=3,
    confirm_n=5,
    delete_misses=3,
    max_pos_sigma_m=5000.0,
    init_speed_sigma_mps=500.0,
    capacity=64,
)


def plots(truth: np.ndarray, sigma: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    z = geo.radar_polar(RADAR, truth)
    return z + rng.standard_normal(z.shape) * sigma


def straight(p0: np.ndarray, v: np.ndarray, t: float) -> np.ndarray:
    return p0 + v * t


def track_of(tracks: Tracks, tid: int) -> int:
    (slot,) = np.flatnonzero(tracks.track_id == tid)
    return int(slot)


# --- Kalman filter -----------------------------------------------------------------------


def test_single_target_no_noise_converges() -> None:
    sigma = np.array([1e-3, 1e-8, 1e-8])
    p0, v = np.array([20e3, 40e3, 5000.0]), np.array([150.0, -100.0, 0.0])
    tracks = Tracks.empty(PARAMS.capacity)
    rng = np.random.default_rng(0)
    for k in range(8):
        t = 2.0 * k
        tracks, info = tracker_step(
            tracks, RADAR, plots(straight(p0, v, t)[None], sigma, rng), sigma, t, MAX_RANGE, PARAMS
        )
        if k == 2:
            assert info.confirmed == 1 and list(info.confirmed_ids) == [0]
    (slot,) = np.flatnonzero(tracks.status != TRACK_FREE)
    assert tracks.status[slot] == TRACK_CONFIRMED and tracks.hits[slot] == 8
    assert np.linalg.norm(tracks.x[slot, :3] - straight(p0, v, 14.0)) < 1.0
    assert np.linalg.norm(tracks.x[slot, 3:] - v) < 0.5


def test_noisy_track_beats_single_measurement() -> None:
    sigma = np.array([50.0, 1e-3, 1e-3])
    p0, v = np.array([-30e3, 30e3, 4000.0]), np.array([200.0, 50.0, 0.0])
    rng = np.random.default_rng(1)
    tracks = Tracks.empty(PARAMS.capacity)
    err2, meas2 = [], []
    for k in range(40):
        t = 2.0 * k
        truth = straight(p0, v, t)[None]
        z = plots(truth, sigma, rng)
        tracks, info = tracker_step(tracks, RADAR, z, sigma, t, MAX_RANGE, PARAMS)
        assert info.initiated == (1 if k == 0 else 0)
        if k >= 20:
            slot = track_of(tracks, 0)
            assert tracks.status[slot] == TRACK_CONFIRMED
            err2.append(np.sum((tracks.x[slot, :3] - truth[0]) ** 2))
            _, R = convert_measurements(RADAR, z, sigma)
            meas2.append(np.trace(R[0]))
    rms, meas_rms = np.sqrt(np.mean(err2)), np.sqrt(np.mean(meas2))
    assert rms < 0.6 * meas_rms, (rms, meas_rms)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), dt=st.floats(0.0, 30.0), accel=st.floats(0.0, 100.0))
def test_predict_update_keep_covariance_spd(seed: int, dt: float, accel: float) -> None:
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((4, 6, 6)) * rng.uniform(0.1, 1e3, (4, 1, 6))
    P = A @ np.swapaxes(A, -1, -2) + 1e-3 * np.eye(6)
    x = rng.standard_normal((4, 6)) * 1e3
    xp, Pp = predict(x, P, dt, accel)
    np.testing.assert_array_equal(Pp, np.swapaxes(Pp, -1, -2))
    assert np.all(np.linalg.eigvalsh(Pp) > 0)
    z = np.column_stack(
        [rng.uniform(1e3, 3e5, 4), rng.uniform(0, 2 * np.pi, 4), rng.uniform(0.0, 1.0, 4)]
    )
    zc, R = convert_measurements(RADAR, z, np.array([30.0, 1e-3, 2e-3]))
    assert np.all(np.linalg.eigvalsh(R) > 0)
    xu, Pu = update(xp, Pp, zc, R)
    np.testing.assert_array_equal(Pu, np.swapaxes(Pu, -1, -2))
    assert np.all(np.linalg.eigvalsh(Pu) > 0)
    # An update never adds uncertainty: Pp - Pu is positive semi-definite.
    gap = np.linalg.eigvalsh(Pp - Pu)
    assert np.all(gap > -1e-6 * np.abs(np.linalg.eigvalsh(Pp)).max(axis=-1, keepdims=True))


def test_predict_dt_zero_and_per_track_dt() -> None:
    x = np.array([[0.0, 0.0, 0.0, 10.0, 20.0, 30.0]] * 2)
    P = np.tile(np.eye(6), (2, 1, 1))
    x0, P0 = predict(x, P, 0.0, 5.0)
    np.testing.assert_array_equal(x0, x)
    np.testing.assert_array_equal(P0, P)
    x1, _ = predict(x, P, np.array([0.0, 2.0]), 5.0)
    np.testing.assert_allclose(x1[1, :3], [20.0, 40.0, 60.0])
    np.testing.assert_array_equal(x1[0], x[0])


# --- Gating and GNN ----------------------------------------------------------------------


def test_gate_costs_match_direct_formula() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 6)) * 100
    P = np.tile(np.diag([100.0, 200.0, 300.0, 10.0, 10.0, 10.0]), (3, 1, 1))
    zc = x[[0, 1, 2, 0], :3] + rng.standard_normal((4, 3)) * 10
    zc[3] += 1e4  # far from everything
    R = np.tile(np.eye(3) * 25.0, (4, 1, 1))
    cost = gate_costs(x, P, zc, R, 16.27)
    for k, d in itertools.product(range(3), range(4)):
        S = P[k, :3, :3] + R[d]
        nu = zc[d] - x[k, :3]
        d2 = nu @ np.linalg.solve(S, nu)
        want = d2 + np.log(np.linalg.det(2 * np.pi * S)) if d2 <= 16.27 else np.inf
        np.testing.assert_allclose(cost[k, d], want, rtol=1e-10)
    assert np.all(np.isinf(cost[:, 3]))
    assert gate_costs(x, P, zc[:0], R[:0], 16.27).shape == (3, 0)


def brute_force(cost: np.ndarray) -> tuple[int, float]:
    """Best (largest count, then least cost) matching of finite pairs, by enumeration."""
    k, d = cost.shape

    def walk(r: int, used: frozenset[int]) -> list[tuple[int, float]]:
        if r == k:
            return [(0, 0.0)]
        out = walk(r + 1, used)  # row r unassigned
        for c in range(d):
            if c not in used and np.isfinite(cost[r, c]):
                out += [(n + 1, s + cost[r, c]) for n, s in walk(r + 1, used | {c})]
        return out

    every = walk(0, frozenset())
    n_best = max(n for n, _ in every)
    return n_best, min(s for n, s in every if n == n_best)


@settings(max_examples=150, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(0, 5), st.integers(0, 5)),
        elements=st.one_of(st.floats(-50, 50), st.just(np.inf)),
    )
)
def test_gnn_matches_brute_force(cost: np.ndarray) -> None:
    rows, cols = gnn(cost)
    assert len(set(rows.tolist())) == rows.size and len(set(cols.tolist())) == cols.size
    assert np.all(np.isfinite(cost[rows, cols]))
    n, total = brute_force(cost)
    assert rows.size == n
    np.testing.assert_allclose(cost[rows, cols].sum(), total, atol=1e-7)


# --- Track file --------------------------------------------------------------------------


def test_crossing_targets_keep_their_ids() -> None:
    sigma = np.array([5.0, 1e-4, 1e-4])
    # The tracks cross at (0, 40 km) at t = 41 s, between two scans (at a scan the two plots
    # would coincide and their labels would be a coin toss): 400 m apart at the nearest scans.
    p0 = np.array([[-8.2e3, 31.8e3, 3000.0], [8.2e3, 31.8e3, 3000.0]])
    v = np.array([[200.0, 200.0, 0.0], [-200.0, 200.0, 0.0]])
    rng = np.random.default_rng(3)
    tracks = Tracks.empty(PARAMS.capacity)
    ids: list[np.ndarray] = []
    for k in range(41):
        t = 2.0 * k
        order = rng.permutation(2)  # plot order must not matter
        z = plots(p0[order] + v[order] * t, sigma, rng)
        tracks, info = tracker_step(tracks, RADAR, z, sigma, t, MAX_RANGE, PARAMS)
        tid = np.empty(2, dtype=np.int64)
        tid[order] = info.plot_track_id
        ids.append(tid)
    ids_arr = np.array(ids)
    assert np.all(ids_arr == ids_arr[0]) and ids_arr[0][0] != ids_arr[0][1]
    assert np.sum(tracks.status == TRACK_CONFIRMED) == 2


def test_clutter_only_confirms_nothing() -> None:
    sensors = SensorParams(
        name=("r",),
        type=("test",),
        pos=RADAR[None],
        ref_range_m=np.array([1e5]),
        ref_rcs_m2=np.array([1.0]),
        max_range_m=np.array([150e3]),
        miss_range_m=np.array([150e3]),
        pfa=np.array([1e-6]),
        scan_period_s=np.array([2.0]),
        clutter_per_scan=np.array([30.0]),
        sigma=np.array([[50.0, 2e-3, 2e-3]]),
        min_el_rad=np.array([0.0]),
        max_el_rad=np.array([0.3]),
        latency_s=np.zeros(1),
        loss_prob=np.zeros(1),
    )
    params = replace(PARAMS, init_speed_sigma_mps=1000.0, accel_sigma_mps2=30.0, capacity=256)
    rng = np.random.default_rng(4)
    tracks = Tracks.empty(params.capacity)
    started = confirmed = 0
    for k in range(5):
        det = sensing.sense(
            2.0 * k,
            np.ones(1, bool),
            sensors,
            np.zeros((0, 3)),
            np.zeros(0),
            np.zeros(0, bool),
            rng,
        )
        tracks, info = tracker_step(
            tracks,
            sensors.pos[0],
            det.z,
            sensors.sigma[0],
            2.0 * k,
            150e3,
            params,
            min_el_rad=0.0,
            max_el_rad=0.3,
        )
        started += info.initiated
        confirmed += info.confirmed
        assert info.overflow == 0
    assert started > 100 and confirmed == 0
    assert not np.any(tracks.status == TRACK_CONFIRMED)


def test_lost_target_deleted_after_delete_misses_and_ids_not_reused() -> None:
    sigma = np.array([10.0, 2e-4, 2e-4])
    p0, v = np.array([10e3, 50e3, 6000.0]), np.array([-100.0, 0.0, 0.0])
    rng = np.random.default_rng(5)
    params = replace(PARAMS, capacity=2)
    tracks = Tracks.empty(params.capacity)
    seen_ids: list[set[int]] = []
    t = 0.0
    for k in range(6):  # confirm the track
        t = 2.0 * k
        tracks, _ = tracker_step(
            tracks, RADAR, plots(straight(p0, v, t)[None], sigma, rng), sigma, t, MAX_RANGE, params
        )
        seen_ids.append(set(tracks.track_id[tracks.status != TRACK_FREE].tolist()))
    assert tracks.status[track_of(tracks, 0)] == TRACK_CONFIRMED
    for miss in range(1, params.delete_misses + 1):  # the target is killed: no more plots
        t += 2.0
        tracks, info = tracker_step(tracks, RADAR, np.zeros((0, 3)), sigma, t, MAX_RANGE, params)
        if miss < params.delete_misses:
            assert tracks.misses[track_of(tracks, 0)] == miss and info.deleted_confirmed == 0
        else:
            assert list(info.deleted_ids) == [0] and info.deleted_confirmed == 1
    assert np.all(tracks.status == TRACK_FREE)
    # A new target at the same place gets a fresh id; capacity 2 means a third plot overflows.
    t += 2.0
    z = plots(
        np.array([straight(p0, v, t)] * 3) + [[0, 0, 0], [0, 2e4, 0], [0, 4e4, 0]], sigma, rng
    )
    tracks, info = tracker_step(tracks, RADAR, z, sigma, t, MAX_RANGE, params)
    assert info.initiated == 2 and info.overflow == 1
    assert sorted(tracks.track_id[tracks.status == TRACK_TENTATIVE].tolist()) == [1, 2]
    assert tracks.next_id == 3 and list(info.plot_track_id) == [1, 2, -1]
    assert all(0 not in ids for ids in seen_ids[6:])


def test_out_of_sequence_batch_is_counted_and_not_applied() -> None:
    sigma = np.array([10.0, 2e-4, 2e-4])
    p0, v = np.array([10e3, 50e3, 6000.0]), np.array([0.0, 250.0, 0.0])
    rng = np.random.default_rng(6)
    tracks = Tracks.empty(PARAMS.capacity)
    for k in range(5):
        t = 2.0 * k
        tracks, _ = tracker_step(
            tracks, RADAR, plots(straight(p0, v, t)[None], sigma, rng), sigma, t, MAX_RANGE, PARAMS
        )
    # A late scan from a slow link, measured at t = 7 s, arrives after the t = 8 s update.
    z_late = plots(straight(p0, v, 7.0)[None], sigma, rng)
    after, info = tracker_step(tracks, RADAR, z_late, sigma, 7.0, MAX_RANGE, PARAMS)
    assert info.out_of_sequence == 1 and info.absorbed == 1
    assert info.updated == 0 and info.initiated == 0
    for f in ("x", "P", "t_update", "hits", "misses", "n_scans", "status", "track_id"):
        np.testing.assert_array_equal(getattr(after, f), getattr(tracks, f))
    assert after.next_id == tracks.next_id


def test_step_does_not_mutate_input() -> None:
    sigma = np.array([10.0, 2e-4, 2e-4])
    rng = np.random.default_rng(7)
    tracks = Tracks.empty(8)
    tracks, _ = tracker_step(
        tracks, RADAR, plots(np.array([[1e4, 3e4, 2e3]]), sigma, rng), sigma, 0.0, MAX_RANGE, PARAMS
    )
    snapshot = {f: np.copy(getattr(tracks, f)) for f in ("x", "P", "hits", "status", "n_scans")}
    tracker_step(
        tracks,
        RADAR,
        plots(np.array([[1e4, 3.02e4, 2e3]]), sigma, rng),
        sigma,
        2.0,
        MAX_RANGE,
        PARAMS,
    )
    for f, arr in snapshot.items():
        np.testing.assert_array_equal(getattr(tracks, f), arr)
