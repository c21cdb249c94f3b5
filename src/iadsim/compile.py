"""Scenario + catalog -> Params: every name resolved, every number in SI, once.

Catalog values are read through :class:`_Reader`, which applies the scenario's ``overrides``
and records every labelled assumption the scenario relies on, so that reports can list them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from iadsim import geo, sensing
from iadsim.catalog import THREAT_CLASSES, Catalog, Param, load_catalog
from iadsim.params import (
    AssetParams,
    Doctrine,
    FireUnitParams,
    Params,
    RaidSpec,
    SensorParams,
    TrackerParams,
    WeaponParams,
)
from iadsim.scenario import Scenario

SENSOR_KEYS = ("detection_range_km", "ref_rcs_m2", "instrumented_range_km", "scan_period_s",
               "pfa", "clutter_per_scan", "sigma_range_m", "sigma_azimuth_mrad",
               "sigma_elevation_mrad", "min_elevation_deg", "max_elevation_deg")

# A scan counts as a miss for a track only where even a small target (MISS_RCS_M2) would be
# detected with probability MISS_PD: beyond it, silence is expected and says nothing.
MISS_RCS_M2 = 0.01
MISS_PD = 0.9


class _Reader:
    """Catalog access with scenario overrides and a record of the assumptions used."""

    def __init__(self, catalog: Catalog, overrides: dict[str, float]):
        self.catalog = catalog
        self.overrides = overrides
        self.used: dict[tuple[str, str], tuple[float, str, str]] = {}

    def param(self, key: str, name: str) -> Param:
        p = self.catalog.get(key).p(name)
        over = self.overrides.get(f"{key}.{name}")
        if over is not None:
            p = replace(p, value=float(over), confidence="override",
                        note=f"scenario override (catalog: {p.value} {p.unit}; {p.note})")
        if p.confidence in ("assumption", "override"):
            self.used[(key, name)] = (float(p.value), p.unit, p.note)
        return p

    def si(self, key: str, name: str) -> float:
        return self.param(key, name).si

    def has(self, key: str, name: str) -> bool:
        return name in self.catalog.get(key).params


def _local(sc: Scenario, lat: float, lon: float, alt: float | None, above: float = 0.0
           ) -> np.ndarray:
    """Local (e, n, u): ``u`` is the height above the origin's ground level (the reference
    ground of the bald 4/3 earth), ``alt`` a height above the ellipsoid (None: the origin's
    ground), ``above`` a mast or antenna height on top of it."""
    o = sc.origin
    alt = o.alt_m if alt is None else alt
    pos = np.asarray(geo.to_local(lat, lon, alt, (o.lat_deg, o.lon_deg, o.alt_m)), dtype=float)
    pos[..., 2] += above - o.alt_m
    return pos


def _sensors(sc: Scenario, rd: _Reader) -> SensorParams:
    rows: list[tuple[str, str, np.ndarray, str]] = []
    down: list[tuple[tuple[float, float], ...]] = []
    for s in sc.sensors:
        mast = s.mast_height_m if s.mast_height_m is not None else rd.si(s.type, "mast_height_m")
        rows.append((s.name, s.type, _local(sc, s.lat_deg, s.lon_deg, s.alt_m, mast), s.link))
        down.append(tuple((w.start_s, w.end_s) for w in s.down))
    for fu in sc.fire_units:
        if not fu.organic_radars:
            continue
        for radar in rd.catalog.get(fu.type).refs.get("radars", []):
            mast = fu.mast_height_m if fu.mast_height_m is not None else rd.si(radar,
                                                                              "mast_height_m")
            rows.append((f"{fu.name}/{radar}", radar,
                         _local(sc, fu.lat_deg, fu.lon_deg, fu.alt_m, mast), fu.link))
            down.append(tuple((w.start_s, w.end_s) for w in fu.down))
    vals = {k: np.array([rd.si(r[1], k) for r in rows]) for k in SENSOR_KEYS}
    if sc.sensing.resolution_factor > 0 and rows:
        rd.used[("sensing", "resolution_factor")] = (
            sc.sensing.resolution_factor, "ratio",
            "radar resolution cell / measurement std per axis; no public resolution figures "
            "(docs/model.md sec. 4)")
    return SensorParams(
        name=tuple(r[0] for r in rows), type=tuple(r[1] for r in rows),
        pos=np.array([r[2] for r in rows]).reshape(-1, 3),
        ref_range_m=vals["detection_range_km"], ref_rcs_m2=vals["ref_rcs_m2"],
        max_range_m=vals["instrumented_range_km"],
        miss_range_m=np.minimum(vals["instrumented_range_km"], sensing.range_for_pd(
            MISS_PD, MISS_RCS_M2, vals["detection_range_km"], vals["ref_rcs_m2"], vals["pfa"])),
        pfa=vals["pfa"],
        scan_period_s=vals["scan_period_s"], clutter_per_scan=vals["clutter_per_scan"],
        sigma=np.column_stack([vals["sigma_range_m"], vals["sigma_azimuth_mrad"],
                               vals["sigma_elevation_mrad"]]).reshape(-1, 3),
        min_el_rad=vals["min_elevation_deg"], max_el_rad=vals["max_elevation_deg"],
        latency_s=np.array([rd.si(r[3], "latency_s") for r in rows]),
        loss_prob=np.array([rd.si(r[3], "loss_prob") for r in rows]),
        down_windows=tuple(down),
        resolution=(None if sc.sensing.resolution_factor == 0 else sc.sensing.resolution_factor
                    * np.column_stack([vals["sigma_range_m"], vals["sigma_azimuth_mrad"],
                                       vals["sigma_elevation_mrad"]]).reshape(-1, 3)),
    )


def _weapons(names: list[str], rd: _Reader) -> WeaponParams:
    n, c = len(names), len(THREAT_CLASSES)
    max_r, pk = np.zeros((n, c)), np.zeros((n, c))
    for i, key in enumerate(names):
        for cls in rd.catalog.get(key).refs["engages"]:
            j = THREAT_CLASSES.index(cls)
            special = f"max_range_km_{cls}"
            max_r[i, j] = rd.si(key, special if rd.has(key, special) else "max_range_km")
            pk[i, j] = rd.si(key, f"pk_{cls}")

    def col(name: str) -> np.ndarray:
        return np.array([rd.si(k, name) for k in names])

    return WeaponParams(
        name=tuple(names), min_range_m=col("min_range_km"), max_range_m=max_r,
        min_alt_m=col("min_altitude_m"), max_alt_m=col("max_altitude_m"),
        max_target_speed_mps=col("max_target_speed_mps"), speed_mps=col("speed_mps"),
        cost_usd=col("cost_usd"), pk=pk,
    )


def _units(sc: Scenario, rd: _Reader, weapons: list[str]) -> FireUnitParams:
    b, w = len(sc.fire_units), len(weapons)
    ready0, reserve0 = np.zeros((b, w), dtype=np.int64), np.zeros((b, w), dtype=np.int64)
    has = np.zeros((b, w), dtype=bool)
    for i, fu in enumerate(sc.fire_units):
        rails = rd.si(fu.type, "rails_per_launcher")
        on_launchers = rd.si(fu.type, "launchers") * rails
        reserve = rd.si(fu.type, "reserve_rounds")
        for key in rd.catalog.get(fu.type).refs["interceptors"]:
            j = weapons.index(key)
            has[i, j] = True
            mix = rd.si(fu.type, f"mix_{key}")
            ready0[i, j] = (fu.magazine or {}).get(key, round(on_launchers * mix))
            reserve0[i, j] = (fu.reserve or {}).get(key, round(reserve * mix))

    def col(name: str, dtype: type = float) -> np.ndarray:
        return np.array([rd.si(fu.type, name) for fu in sc.fire_units], dtype=dtype)

    return FireUnitParams(
        name=tuple(fu.name for fu in sc.fire_units), type=tuple(fu.type for fu in sc.fire_units),
        pos=np.array([_local(sc, fu.lat_deg, fu.lon_deg, fu.alt_m)
                      for fu in sc.fire_units]).reshape(-1, 3),
        channels=col("channels", np.int64), tracks_max=col("tracks_max", np.int64),
        has_weapon=has, ready0=ready0, reserve0=reserve0,
        rails=col("rails_per_launcher", np.int64), reload_time_s=col("reload_time_s"),
        reaction_time_s=col("reaction_time_s"),
        down_windows=tuple(tuple((d.start_s, d.end_s) for d in fu.down) for fu in sc.fire_units),
    )


def _raids(sc: Scenario, rd: _Reader, asset_index: dict[str, int]) -> tuple[RaidSpec, ...]:
    out = []
    for r in sc.raids:
        e = rd.catalog.get(r.threat)
        cls = e.refs["class"]
        ballistic = e.refs["profile"] == "ballistic"
        speed = r.speed_mps if r.speed_mps is not None else rd.si(r.threat, (
            "reentry_speed_mps" if ballistic else "speed_mps"))
        alt = r.altitude_m if r.altitude_m is not None else rd.si(r.threat, "cruise_altitude_m")
        dive = -1.0 if cls == "glide_bomb" else rd.si(r.threat, "dive_angle_deg")
        out.append(RaidSpec(
            name=r.name, type=r.threat, cls=THREAT_CLASSES.index(cls), ballistic=ballistic,
            count=r.count, launch_en=_local(sc, r.launch.lat_deg, r.launch.lon_deg, None)[:2],
            launch_radius_m=r.launch.radius_km * 1000.0, launch_time_s=r.launch_time_s,
            spacing_s=r.spacing_s, target=asset_index[r.target], aim_spread_m=r.aim_spread_m,
            waypoints_en=np.array([_local(sc, p.lat_deg, p.lon_deg, None)[:2]
                                   for p in r.waypoints]).reshape(-1, 2),
            speed_mps=speed, cruise_alt_m=alt, dive_angle_rad=dive,
            release_m=rd.si(r.threat, "release_range_km"), rcs_m2=rd.si(r.threat, "rcs_m2"),
            cost_usd=rd.si(r.threat, "cost_usd"),
            reentry_alt_m=rd.si(r.threat, "reentry_altitude_km") if ballistic else 0.0,
            reentry_angle_rad=rd.si(r.threat, "reentry_angle_deg") if ballistic else 0.0,
        ))
    return tuple(out)


def compile_scenario(sc: Scenario, catalog: Catalog | None = None) -> Params:
    """Resolve a validated scenario against the catalog (threats are drawn per run)."""
    rd = _Reader(catalog or load_catalog(), dict(sc.overrides))
    weapons: list[str] = []
    for fu in sc.fire_units:
        for key in rd.catalog.get(fu.type).refs["interceptors"]:
            if key not in weapons:
                weapons.append(key)
    assets = AssetParams(
        name=tuple(a.name for a in sc.assets),
        pos=np.array([_local(sc, a.lat_deg, a.lon_deg, a.alt_m) for a in sc.assets]),
        value=np.array([a.value for a in sc.assets]),
        radius_m=np.array([a.radius_m for a in sc.assets]),
    )
    units = _units(sc, rd, weapons)
    tr, d = sc.tracker, sc.doctrine
    return Params(
        name=sc.name, duration_s=sc.duration_s, dt_s=sc.dt_s, threats=None,
        sensors=_sensors(sc, rd), weapons=_weapons(weapons, rd), units=units, assets=assets,
        raids=_raids(sc, rd, {a.name: i for i, a in enumerate(sc.assets)}),
        tracker=TrackerParams(
            accel_sigma_mps2=tr.accel_sigma_mps2, gate_prob=tr.gate_prob,
            confirm_m=tr.confirm_m, confirm_n=tr.confirm_n, delete_misses=tr.delete_misses,
            max_pos_sigma_m=tr.max_pos_sigma_m, init_speed_sigma_mps=tr.init_speed_sigma_mps,
            max_coast_s=tr.max_coast_s,
            capacity=tr.capacity, filter=tr.filter,
            manoeuvre_accel_sigma_mps2=tr.manoeuvre_accel_sigma_mps2, imm_p_stay=tr.imm_p_stay),
        doctrine=Doctrine(salvo=d.rounds_per_salvo, max_engagements=d.max_engagements,
                          look_s=d.look_delay_s, priority=d.priority,
                          min_value=d.hold_below_value, kill_radius_m=d.kill_radius_m,
                          range_margin=d.range_margin, assess_radius_m=d.assess_radius_m,
                          volley=2 if d.mode == "shoot-shoot-look" else 1,
                          preserve=d.preserve_long_range, long_range_m=d.long_range_km * 1e3,
                          min_hits=d.min_track_hits, planner=d.planner),
        interceptor_capacity=int(units.ready0.sum() + units.reserve0.sum()) + 1,
        assumptions=tuple((k, n, v, u, note) for (k, n), (v, u, note) in sorted(rd.used.items())),
    )
