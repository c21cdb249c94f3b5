"""The simulator's IMM filter (``tracker.filter: imm``): a sharp turn is followed better than
by the quiet constant-velocity filter, straight flight about as well, and the manoeuvre model's
probability rises only in the turn."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from iadsim import geo
from iadsim.params import TrackerParams
from iadsim.state import TRACK_CONFIRMED, Tracks
from iadsim.tracking import imm3, tracker_step

RADAR = np.array([0.0, 0.0, 20.0])
SIGMA = np.array([10.0, 1e-3, 1e-3])  # range m, azimuth and elevation rad
PARAMS = TrackerParams(accel_sigma_mps2=2.0, gate_prob=0.999, confirm_m=3, confirm_n=5,
                       delete_misses=3, max_pos_sigma_m=5000.0, init_speed_sigma_mps=500.0,
                       capacity=16, manoeuvre_accel_sigma_mps2=50.0, imm_p_stay=0.95)


def turning_path(n: int = 150, v: float = 250.0, g_load: float = 6.0) -> np.ndarray:
    """Positions at t = 0..n-1 s: east 60 s, a 180-degree level turn at ``g_load`` g, west."""
    w = g_load * 9.81 / v  # turn rate rad/s
    t_turn = np.pi / w
    out, p, heading = [], np.array([-10e3, 25e3, 3000.0]), 0.0  # heading 0 = east
    for t in range(n):
        out.append(p.copy())
        in_turn = 60.0 <= t < 60.0 + t_turn
        # integrate 1 s in 100 steps
        for _ in range(100):
            if in_turn:
                heading += w * 0.01
            p = p + v * 0.01 * np.array([np.cos(heading), np.sin(heading), 0.0])
    return np.array(out), 60.0, 60.0 + t_turn


def run(filter_: str, truth: np.ndarray, seed: int):
    """Position errors per scan and the manoeuvre-model probability of the one track."""
    rng = np.random.default_rng(seed)
    params = replace(PARAMS, filter=filter_)
    tracks = Tracks.empty(16, imm3.N_MODELS if filter_ == "imm" else 0)
    err, mu_m, ids = [], [], set()
    for t, p in enumerate(truth):
        z = geo.radar_polar(RADAR, p[None]) + rng.standard_normal((1, 3)) * SIGMA
        tracks, _ = tracker_step(tracks, RADAR, z, SIGMA, float(t), 400e3, params)
        conf = np.flatnonzero(tracks.status == TRACK_CONFIRMED)
        if len(conf):
            k = conf[0]
            ids.add(int(tracks.track_id[k]))
            err.append(np.linalg.norm(tracks.x[k, :3] - p))
            mu_m.append(tracks.mu[k, 1] if tracks.mu is not None else np.nan)
        else:
            err.append(np.nan)
            mu_m.append(np.nan)
    return np.array(err), np.array(mu_m), ids


@pytest.mark.parametrize("seed", range(4))
def test_imm_follows_a_6g_turn_better_and_straight_flight_as_well(seed: int) -> None:
    truth, t0, t1 = turning_path()
    e_cv, _, ids_cv = run("cv", truth, seed)
    e_imm, mu, ids_imm = run("imm", truth, seed)
    assert len(ids_imm) == 1  # one track, one id, through the turn
    t = np.arange(len(truth))
    turn = (t >= t0) & (t < t1 + 10)
    straight = (t >= 20) & (t < t0)
    rms = lambda e, m: float(np.sqrt(np.nanmean(e[m] ** 2)))  # noqa: E731
    assert rms(e_imm, turn) < 0.7 * rms(e_cv, turn)  # the quiet CV filter lags in the turn
    assert rms(e_imm, straight) < 1.3 * rms(e_cv, straight)  # and IMM costs little when straight
    assert np.nanmax(mu[turn]) > 0.6 and np.nanmean(mu[straight]) < 0.3
    assert len(ids_cv) >= 1


def test_imm_track_file_grows_and_initiates_models() -> None:
    tracks = Tracks.empty(4, imm3.N_MODELS)
    params = replace(PARAMS, filter="imm")
    z = geo.radar_polar(RADAR, np.array([[1e4 * i, 2e4, 1e3] for i in range(1, 4)]))
    out, info = tracker_step(tracks, RADAR, z, SIGMA, 0.0, 400e3, params)
    new = np.flatnonzero(out.status != 0)
    assert info.initiated == 3 and out.mu is not None
    np.testing.assert_allclose(out.mu[new], np.tile(imm3.mu0(), (3, 1)))
    np.testing.assert_array_equal(out.xm[new, 0], out.x[new])
    np.testing.assert_array_equal(out.xm[new, 1], out.x[new])
    assert tracks.mu is not None and (tracks.status == 0).all()  # input not mutated
