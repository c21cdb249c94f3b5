"""Deterministic 2-D multi-target scenario generator (``/work/shared/tracking/FORMAT.md``).

    PYTHONPATH=src python benchmarks/make_tracking_scenario.py --out DIR [--seed 1]
        [--n-targets 60] [--scans 300] [--clutter-rate 15] [--pd 0.9] [--sigma 50]
        [--half-width 100000] [--frac-at-start 0.3] [--life-min 60] [--life-max 300]

Writes ``DIR/detections.csv``, ``DIR/truth.csv`` and ``DIR/params.json``. numpy only; one
``numpy.random.default_rng(seed)`` drawn in a fixed order, so the same arguments give
byte-identical files with the same numpy version.

Targets (FORMAT.md "Target dynamics"):

- start uniform in the square ``[-L, L]^2``, speed ``U[50, 700]`` m/s, heading for an aim point
  uniform in the central half ``[-L/2, L/2]^2``;
- nearly constant velocity: per scan an acceleration ``a ~ N(0, sigma_a^2 I2)``, held over the
  scan (``dp = a dt^2 / 2``, ``dv = a dt``), ``sigma_a = 0.5`` m/s^2;
- ``frac_turning`` (30 %) make 1 or 2 coordinated turns (exact constant-turn-rate motion): lateral
  acceleration ``U[1, 4] g``, rate ``omega = min(a_lat / speed, 0.2)`` rad/s, sweep ``U[30, 120]``
  deg over a whole number of scans ``n = ceil(sweep / (omega dt))`` (the rate is then set to
  ``sweep / (n dt)``, never above the cap), random sign; the first turn starts at a uniform
  age in ``[0, life / 2)``, a second one 0 to 20 scans after the first ends;
- ``frac_at_start`` (30 %) are born at scan 0, the others at a uniform scan in
  ``[0, scans - 30)``; lifetimes ``U[life_min, life_max]`` scans (integers, both ends included);
- a target is live from its birth scan until its life ends, the run ends, or it leaves the
  square (then it is dead for good). Only live targets make detections.

Sensor: each live target is detected with probability ``pd``, measurement = position +
``N(0, sigma^2 I2)``; clutter ``Poisson(clutter_rate)`` per scan, uniform over the square; the
rows of a scan are shuffled.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

G = 9.80665  # m/s^2


def _turn_plan(rng, n: int, speed: np.ndarray, life: np.ndarray, p: dict):
    """Per target and turn slot (2): start age, end age (scans) and rate (rad/s, 0 = none)."""
    start = np.zeros((n, 2), np.int64)
    end = np.zeros((n, 2), np.int64)
    rate = np.zeros((n, 2))
    turning = rng.random(n) < p["frac_turning"]
    n_turns = rng.integers(1, 3, n)
    g_lat = rng.uniform(p["turn_g_min"], p["turn_g_max"], (n, 2)) * G
    sweep = np.deg2rad(rng.uniform(30.0, 120.0, (n, 2)))
    sign = np.where(rng.random((n, 2)) < 0.5, -1.0, 1.0)
    first = np.floor(rng.random(n) * life / 2).astype(np.int64)
    gap = rng.integers(0, 21, n)
    w = np.minimum(g_lat / speed[:, None], p["max_turn_rate"])
    steps = np.ceil(sweep / (w * p["dt"])).astype(np.int64)
    start[:, 0] = first
    end[:, 0] = first + steps[:, 0]
    start[:, 1] = end[:, 0] + gap
    end[:, 1] = start[:, 1] + steps[:, 1]
    on = np.stack([turning, turning & (n_turns == 2)], axis=1)
    rate = np.where(on, sign * sweep / (steps * p["dt"]), 0.0)
    return start, end, rate, turning


def generate(p: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """``(detections [M, 3], truth [R, 6], realised)`` for the settings ``p``."""
    rng = np.random.default_rng(p["seed"])
    n, scans, dt, L = p["n_targets"], p["scans"], p["dt"], p["half_width"]
    pos = rng.uniform(-L, L, (n, 2))
    aim = rng.uniform(-L / 2, L / 2, (n, 2))
    speed = rng.uniform(p["speed_min"], p["speed_max"], n)
    head = aim - pos
    head /= np.maximum(np.linalg.norm(head, axis=1, keepdims=True), 1e-9)
    vel = head * speed[:, None]
    at_start = rng.random(n) < p["frac_at_start"]
    birth = np.where(at_start, 0, rng.integers(0, max(scans - 30, 1), n))
    life = rng.integers(p["life_min"], p["life_max"] + 1, n)
    t_start, t_end, rate, turning = _turn_plan(rng, n, speed, life, p)
    end = np.minimum(birth + life, scans)
    alive = np.ones(n, bool)
    exited = np.zeros(n, bool)
    det, tru = [], []
    for k in range(scans):
        live = alive & (birth <= k) & (k < end)
        idx = np.flatnonzero(live)
        tru.append(np.column_stack([np.full(idx.size, k * dt), idx, pos[idx], vel[idx]]))
        seen = idx[rng.random(idx.size) < p["pd"]]
        z = pos[seen] + rng.normal(0.0, p["sigma"], (seen.size, 2))
        c = rng.uniform(-L, L, (rng.poisson(p["clutter_rate"]), 2))
        zc = np.concatenate([z, c])[rng.permutation(seen.size + len(c))]
        det.append(np.column_stack([np.full(len(zc), k * dt), zc, np.r_[np.ones(seen.size),
                                                                      np.zeros(len(c))]]))
        # advance the live targets to scan k + 1
        age = k - birth[idx]
        w = ((t_start[idx] <= age[:, None]) & (age[:, None] < t_end[idx])) * rate[idx]
        w = w.sum(axis=1)
        wt = w * dt
        small = np.abs(wt) < 1e-12
        ws = np.where(small, 1.0, w)
        s_w = np.where(small, dt, np.sin(wt) / ws)
        c_w = np.where(small, 0.0, (1.0 - np.cos(wt)) / ws)
        vx, vy = vel[idx, 0], vel[idx, 1]
        pos[idx, 0] += s_w * vx - c_w * vy
        pos[idx, 1] += c_w * vx + s_w * vy
        cw, sw = np.cos(wt), np.sin(wt)
        vel[idx] = np.column_stack([cw * vx - sw * vy, sw * vx + cw * vy])
        a = rng.normal(0.0, p["sigma_a"], (idx.size, 2))
        pos[idx] += 0.5 * a * dt**2
        vel[idx] += a * dt
        out = (np.abs(pos[idx]) > L).any(axis=1) & (k + 1 < end[idx])
        exited[idx[out]] = True
        alive[idx[out]] = False
    truth = np.concatenate(tru)
    dets = np.concatenate(det)
    per_scan = np.bincount(truth[:, 0].round().astype(np.int64) if len(truth) else
                           np.zeros(0, np.int64), minlength=scans)
    n_tgt = int(dets[:, 3].sum())
    realised = {
        "truth_rows": len(truth),
        "targets_appearing": int(np.unique(truth[:, 1]).size) if len(truth) else 0,
        "mean_targets_per_scan": float(per_scan.mean()) if scans else 0.0,
        "max_targets_per_scan": int(per_scan.max()) if scans else 0,
        "target_detections": n_tgt,
        "clutter_detections": len(dets) - n_tgt,
        "detections_total": len(dets),
        "realised_pd": n_tgt / len(truth) if len(truth) else float("nan"),
        "manoeuvring_targets": int(turning.sum()),
        "targets_exiting_square": int(exited.sum()),
    }
    return dets[:, :3], truth, realised


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n-targets", type=int, default=60)
    ap.add_argument("--scans", type=int, default=300)
    ap.add_argument("--clutter-rate", type=float, default=15.0)
    ap.add_argument("--pd", type=float, default=0.9)
    ap.add_argument("--sigma", type=float, default=50.0)
    ap.add_argument("--half-width", type=float, default=100e3)
    ap.add_argument("--frac-at-start", type=float, default=0.3)
    ap.add_argument("--life-min", type=int, default=60)
    ap.add_argument("--life-max", type=int, default=300)
    a = ap.parse_args(argv)
    L = a.half_width
    p = {"seed": a.seed, "n_targets": a.n_targets, "scans": a.scans, "dt": 1.0, "half_width": L,
         "radar_x": 0.0, "radar_y": 0.0, "speed_min": 50.0, "speed_max": 700.0, "sigma_a": 0.5,
         "frac_at_start": a.frac_at_start, "life_min": a.life_min, "life_max": a.life_max,
         "frac_turning": 0.3, "turn_g_min": 1.0, "turn_g_max": 4.0, "max_turn_rate": 0.2,
         "pd": a.pd, "sigma": a.sigma, "clutter_rate": a.clutter_rate,
         "coords": "2-D Cartesian, metres; radar at (radar_x, radar_y)",
         "surveillance_region": [[-L, L], [-L, L]],
         "clutter_density_per_m2": a.clutter_rate / (2 * L) ** 2,
         "generator": "benchmarks/make_tracking_scenario.py"}
    dets, truth, realised = generate(p)
    p["realised"] = realised
    a.out.mkdir(parents=True, exist_ok=True)
    np.savetxt(a.out / "detections.csv", dets, fmt=["%.3f", "%.2f", "%.2f"], delimiter=",",
               header="time_s,x,y", comments="")
    np.savetxt(a.out / "truth.csv", truth, fmt=["%.3f", "%d", "%.2f", "%.2f", "%.3f", "%.3f"],
               delimiter=",", header="time_s,target_id,x,y,vx,vy", comments="")
    (a.out / "params.json").write_text(json.dumps(p, indent=2) + "\n")


if __name__ == "__main__":
    main()
