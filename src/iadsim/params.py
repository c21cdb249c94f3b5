"""Compiled, run-invariant parameters (SI units), kept apart from the world state.

``compile.compile_scenario`` builds one :class:`Params` from a validated scenario and the
catalog; every phase reads it and none changes it. Arrays are indexed like the matching state
arrays (threat ``i``, sensor ``s``, fire unit ``b``, interceptor type ``w``, asset ``a``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class SensorParams:
    name: tuple[str, ...]  # [S]
    type: tuple[str, ...]  # [S] catalog key
    pos: np.ndarray  # [S, 3] m, antenna position (u = ground height + mast height)
    ref_range_m: np.ndarray  # [S] range at which ref_rcs_m2 gives Pd = 0.5 per scan
    ref_rcs_m2: np.ndarray  # [S]
    max_range_m: np.ndarray  # [S] instrumented range: no plot beyond it
    miss_range_m: np.ndarray  # [S] a scan counts as a track miss only inside this range
    pfa: np.ndarray  # [S] false-alarm probability per resolution cell (Swerling-1 Pd)
    scan_period_s: np.ndarray  # [S]
    clutter_per_scan: np.ndarray  # [S] mean of the Poisson number of false plots per scan
    sigma: np.ndarray  # [S, 3] measurement noise std (range m, azimuth rad, elevation rad)
    min_el_rad: np.ndarray  # [S]
    max_el_rad: np.ndarray  # [S]
    latency_s: np.ndarray  # [S] one-way link latency to the central tracker
    loss_prob: np.ndarray  # [S] probability a scan's plots are lost on the link
    down_windows: tuple[tuple[tuple[float, float], ...], ...] = ()  # [S] (start, end) s outages
    # [S, 3] resolution cell (range m, azimuth rad, elevation rad): targets closer than this on
    # every axis give one plot. None: every target resolved.
    resolution: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.name)


@dataclass(frozen=True, slots=True)
class TrackerParams:
    accel_sigma_mps2: float  # white-noise acceleration std of the constant-velocity model
    gate_prob: float  # chi-square gate probability (3 dof)
    confirm_m: int  # M of ...
    confirm_n: int  # ... N scans in coverage confirm a tentative track
    delete_misses: int  # consecutive misses in coverage that delete a confirmed track
    max_pos_sigma_m: float  # delete a track whose position std exceeds this
    init_speed_sigma_mps: float  # velocity std of a one-point-initiated track
    capacity: int  # track slots
    max_coast_s: float = float("inf")  # delete a track not updated for this long (engine)
    filter: str = "cv"  # "cv": one Kalman filter; "imm": quiet + manoeuvre CV models (imm3)
    manoeuvre_accel_sigma_mps2: float = 50.0  # white-noise acceleration of the manoeuvre model
    imm_p_stay: float = 0.95  # IMM probability of staying in a model per update


@dataclass(frozen=True, slots=True)
class ThreatParams:
    """Per-threat data of one run. Routes are padded to the longest by repeating the aim point."""

    name: tuple[str, ...]  # [N] raid name + number, for reports
    type: tuple[str, ...]  # [N] catalog key
    cls: np.ndarray  # [N] int, index into catalog.THREAT_CLASSES (truth: metrics and Pk draw)
    ballistic: np.ndarray  # [N] bool, ballistic terminal profile (else cruise route)
    launch_t: np.ndarray  # [N] s
    start: np.ndarray  # [N, 3] m, position at launch_t
    start_vel: np.ndarray  # [N, 3] m/s, ballistic only (cruise velocity follows the route)
    route: np.ndarray  # [N, L+1, 2] m, ground waypoints (e, n), start first, aim point last
    cum_m: np.ndarray  # [N, L+1] m, route length from the start to each waypoint (padded)
    total_m: np.ndarray  # [N] m, route length start -> aim point
    speed_mps: np.ndarray  # [N] ground speed of a cruise-profile threat
    cruise_alt_m: np.ndarray  # [N]
    tan_dive: np.ndarray  # [N] tangent of the terminal dive angle
    release_m: np.ndarray  # [N] ground distance to the aim point at which it "arrives"
    rcs_m2: np.ndarray  # [N]
    cost_usd: np.ndarray  # [N]
    aim_asset: np.ndarray  # [N] int, asset index aimed at
    aim: np.ndarray  # [N, 3] m, aim point

    def __len__(self) -> int:
        return len(self.name)


@dataclass(frozen=True, slots=True)
class WeaponParams:
    """Interceptor types used by the scenario's fire units, index ``w``."""

    name: tuple[str, ...]  # [W] catalog key
    min_range_m: np.ndarray  # [W]
    max_range_m: np.ndarray  # [W, C] by threat class (0 where the class cannot be engaged)
    min_alt_m: np.ndarray  # [W]
    max_alt_m: np.ndarray  # [W]
    max_target_speed_mps: np.ndarray  # [W]
    speed_mps: np.ndarray  # [W] mean fly-out speed
    cost_usd: np.ndarray  # [W]
    pk: np.ndarray  # [W, C] single-shot kill probability by threat class (0: cannot engage)


@dataclass(frozen=True, slots=True)
class FireUnitParams:
    name: tuple[str, ...]  # [B]
    type: tuple[str, ...]  # [B]
    pos: np.ndarray  # [B, 3] m
    channels: np.ndarray  # [B] int, engagements in flight at once
    tracks_max: np.ndarray  # [B] int, tracks the unit can consider at once
    has_weapon: np.ndarray  # [B, W] bool
    ready0: np.ndarray  # [B, W] int, rounds on launchers at t = 0
    reserve0: np.ndarray  # [B, W] int, reload stock at t = 0
    rails: np.ndarray  # [B] int, rounds per launcher (one reload)
    reload_time_s: np.ndarray  # [B]
    reaction_time_s: np.ndarray  # [B]
    down_windows: tuple[tuple[tuple[float, float], ...], ...]  # [B] (start, end) s, unit down


@dataclass(frozen=True, slots=True)
class AssetParams:
    name: tuple[str, ...]  # [A]
    pos: np.ndarray  # [A, 3] m
    value: np.ndarray  # [A]
    radius_m: np.ndarray  # [A]


@dataclass(frozen=True, slots=True)
class Doctrine:
    salvo: int  # rounds per engagement
    max_engagements: int  # engagements per track and fire unit (k: shoot-look-shoot up to k)
    look_s: float  # kill-assessment delay after the planned intercept time
    priority: str  # "value" (value x Pk) | "time" (value x Pk per second to impact)
    min_value: float  # hold fire at tracks whose threat value is below this
    kill_radius_m: float  # seeker basket: a round finds a threat within this of its aim track
    range_margin: float  # plan intercepts inside this fraction of the weapon's max range
    assess_radius_m: float  # a track passing this close to an asset threatens it
    volley: int = 1  # engagements fired at a track before a look (2: shoot-shoot-look)
    preserve: bool = False  # long-range rounds only where no cheaper layer can engage
    long_range_m: float = 100e3  # interceptors with a longer max range are the long-range layer
    min_hits: int = 1  # fire only at tracks with at least this many measurement updates
    planner: str = "optimal"  # "optimal" (exact per frame) | "greedy" (marginal return)


@dataclass(frozen=True, slots=True)
class Params:
    name: str
    duration_s: float
    dt_s: float
    threats: ThreatParams | None  # drawn per run from ``raids`` (launch and aim scatter)
    sensors: SensorParams
    weapons: WeaponParams
    units: FireUnitParams
    assets: AssetParams
    raids: tuple[RaidSpec, ...]
    tracker: TrackerParams
    doctrine: Doctrine
    interceptor_capacity: int
    assumptions: tuple[tuple[str, str, float, str, str], ...]  # (entry, param, value, unit, note)

    @property
    def n_steps(self) -> int:
        return int(np.ceil(self.duration_s / self.dt_s - 1e-9))


@dataclass(frozen=True, slots=True)
class RaidSpec:
    """One raid resolved against the catalog; threats are drawn from it per run."""

    name: str
    type: str
    cls: int  # index into catalog.THREAT_CLASSES
    ballistic: bool
    count: int
    launch_en: np.ndarray  # [2] m, centre of the launch area
    launch_radius_m: float
    launch_time_s: float
    spacing_s: float
    target: int  # asset index
    aim_spread_m: float
    waypoints_en: np.ndarray  # [P, 2] m
    speed_mps: float  # cruise ground speed / re-entry speed (ballistic)
    cruise_alt_m: float
    dive_angle_rad: float  # < 0: glide, descend linearly over the whole route; 0: level flight
    release_m: float
    rcs_m2: float
    cost_usd: float
    reentry_alt_m: float  # ballistic only
    reentry_angle_rad: float  # ballistic only
