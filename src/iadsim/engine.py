"""The frame loop. The phase order is written here, once:

    move -> sense -> share -> track -> assess -> assign -> engage -> record

A frame takes the world from ``t`` to ``t + dt``. ``step`` is a pure function of the world,
the parameters and the run's random streams; ``run`` is the imperative shell that owns the
event log and the optional recording of paths and magazines for reports.

Random streams are named children of the run's ``SeedSequence`` (geometry, sensing, network,
engagement), so a phase's draws never shift another phase's, and a run's numbers depend only on
(scenario seed, run index): the same on one worker or many.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from iadsim import kinematics, network, sensing
from iadsim.assessment import assess
from iadsim.assignment import Plan, plan
from iadsim.engagement import (
    busy_channels,
    in_flight,
    init_units,
    reload,
    reset_reused_slots,
    resolve,
    unit_status,
)
from iadsim.events import EventBatch, EventLog, batch
from iadsim.params import Params
from iadsim.state import (
    TRACK_CONFIRMED,
    TRACK_FREE,
    Engagements,
    FireUnits,
    InFlight,
    Interceptors,
    Threats,
    Tracks,
)
from iadsim.tracking import imm3, tracker_step

STREAMS = ("geometry", "sensing", "network", "engagement")


@dataclass(frozen=True, slots=True)
class Streams:
    geometry: np.random.Generator
    sensing: np.random.Generator
    network: np.random.Generator
    engagement: np.random.Generator

    @staticmethod
    def from_seed(seed: int, run: int) -> Streams:
        """Named streams of run ``run`` of a campaign with root seed ``seed``."""
        root = np.random.SeedSequence(entropy=seed, spawn_key=(run,))
        return Streams(*(np.random.default_rng(s) for s in root.spawn(len(STREAMS))))


@dataclass(frozen=True, slots=True)
class World:
    t: float
    threats: Threats
    tracks: Tracks
    units: FireUnits
    rounds: Interceptors
    eng: Engagements
    pending: network.Pending
    next_scan_t: np.ndarray  # [S] s
    next_engagement: int
    counters: tuple[tuple[str, int], ...] = ()  # running totals (tracker, network)


def init_world(params: Params) -> World:
    """World at t = 0 (threats due at t <= 0 already launched)."""
    assert params.threats is not None, "draw the run's threats first (kinematics.make_threats)"
    threats = kinematics.init_threats(params.threats)
    threats, _, _, _ = kinematics.move(threats, params.threats, -0.0, 0.0)
    cap = params.tracker.capacity
    models = imm3.N_MODELS if params.tracker.filter == "imm" else 0
    return World(
        t=0.0, threats=threats, tracks=Tracks.empty(cap, models), units=init_units(params),
        rounds=Interceptors.empty(params.interceptor_capacity),
        eng=Engagements.empty(cap, len(params.units.name)),
        pending=network.Pending.empty(), next_scan_t=np.zeros(len(params.sensors)),
        next_engagement=0,
    )


def _grow(tracks: Tracks, eng: Engagements, need: int) -> tuple[Tracks, Engagements]:
    """Make room for ``need`` new tracks: double the track file (and the engagement table)
    when free slots run short, so a saturation raid never loses plots to a full table."""
    free = int((tracks.status == 0).sum())
    if free >= need:
        return tracks, eng
    cap = tracks.capacity
    extra = max(cap, need - free)
    more = Tracks.empty(extra, 0 if tracks.mu is None else tracks.mu.shape[1])
    fields = ("x", "P", "t_update", "t_init", "hits", "misses", "n_scans", "status", "track_id")
    if tracks.mu is not None:
        fields += ("mu", "xm", "Pm")
    grown = Tracks(**{f: np.concatenate([getattr(tracks, f), getattr(more, f)]) for f in fields},
                   next_id=tracks.next_id)
    return grown, eng.grown(extra)


def delete_stale(tracks: Tracks, t: float, max_coast_s: float) -> tuple[Tracks, np.ndarray]:
    """Drop tracks not updated for ``max_coast_s`` (Stone Soup's ``UpdateTimeDeleter``).

    The tracker's miss counter only counts scans where even a small target should have been
    seen; this deleter bounds how long any track, duplicate or clutter-born, coasts unseen.
    Returns the new track file and the ids of the *confirmed* tracks deleted.
    """
    stale = (tracks.status != TRACK_FREE) & (t - tracks.t_update > max_coast_s)
    if not stale.any():
        return tracks, np.zeros(0, dtype=np.int64)
    gone = tracks.track_id[stale & (tracks.status == TRACK_CONFIRMED)]
    status = tracks.status.copy()
    status[stale] = TRACK_FREE
    return replace(tracks, status=status), gone


def _bump(counters: dict[str, int], key: str, n: int) -> None:
    counters[key] = counters.get(key, 0) + int(n)


def _arrivals(params: Params, t: float, arrived: np.ndarray, impact: np.ndarray
              ) -> list[EventBatch]:
    if len(arrived) == 0:
        return []
    ev = [batch("leak", t, len(arrived), threat=arrived, pos=impact,
                asset=params.threats.aim_asset[arrived])]
    a = params.assets
    d = np.linalg.norm(impact[:, None, :2] - a.pos[None, :, :2], axis=-1) - a.radius_m[None]
    nearest = np.argmin(d, axis=1)
    inside = d[np.arange(len(arrived)), nearest] <= 0
    if inside.any():
        ev.append(batch("asset_hit", t, int(inside.sum()), threat=arrived[inside],
                        asset=nearest[inside], pos=impact[inside],
                        value=a.value[nearest[inside]]))
    return ev


def _launch(world: World, p: Plan, flying: InFlight, params: Params
            ) -> tuple[Interceptors, FireUnits, Engagements, int, list[EventBatch]]:
    """Commit the planned salvos: rounds in flight, magazines, per-track bookkeeping (a salvo
    at a track with nothing in flight starts a new volley)."""
    r, u, eng = world.rounds, world.units, world.eng
    n = int(p.rounds.sum())
    slots = np.flatnonzero(~r.active)[:n]
    if len(slots) < n:  # pragma: no cover - capacity is the total magazine
        raise RuntimeError("interceptor capacity exceeded")
    rep = np.repeat(np.arange(len(p)), p.rounds)
    cols = {f: getattr(r, f).copy() for f in ("unit", "itype", "track", "track_id", "engagement",
                                              "launch_pos", "aim", "launch_t", "intercept_t",
                                              "active")}
    cols["unit"][slots] = p.unit[rep]
    cols["itype"][slots] = p.weapon[rep]
    cols["track"][slots] = p.track[rep]
    cols["track_id"][slots] = world.tracks.track_id[p.track[rep]]
    cols["engagement"][slots] = world.next_engagement + rep
    cols["launch_pos"][slots] = params.units.pos[p.unit[rep]]
    cols["aim"][slots] = p.aim[rep]
    cols["launch_t"][slots] = p.launch_t[rep]
    cols["intercept_t"][slots] = p.intercept_t[rep]
    cols["active"][slots] = True
    ready = u.ready.copy()
    np.subtract.at(ready, (p.unit, p.weapon), p.rounds)
    shots, last, volley = eng.shots.copy(), eng.last_intercept_t.copy(), eng.volley.copy()
    np.add.at(shots, (p.track, p.unit), 1)
    last[p.track] = np.maximum(np.where(flying.salvos[p.track] > 0, last[p.track], -np.inf),
                               p.intercept_t)
    volley[p.track] = np.where(flying.salvos[p.track] > 0, volley[p.track] + 1, 1)
    ev = [batch("launch", p.launch_t[rep], n, unit=p.unit[rep], weapon=p.weapon[rep],
                track=world.tracks.track_id[p.track[rep]], pos=p.aim[rep],
                value=(p.intercept_t - p.launch_t)[rep])]
    return (Interceptors(**cols), replace(u, ready=ready),
            replace(eng, shots=shots, last_intercept_t=last, volley=volley),
            world.next_engagement + len(p), ev)


def step(world: World, params: Params, rng: Streams) -> tuple[World, list[EventBatch]]:
    """One frame, ``world.t -> world.t + dt``. Returns the new world and its events."""
    dt = params.dt_s
    t = world.t + dt
    events: list[EventBatch] = []
    counters = dict(world.counters)

    # move
    threats, launched, arrived, impact = kinematics.move(world.threats, params.threats,
                                                         world.t, dt)
    if len(launched):
        events.append(batch("threat_launch", t, len(launched), threat=launched,
                            pos=threats.pos[launched]))
    events += _arrivals(params, t, arrived, impact)

    # sense
    due = world.next_scan_t <= t + 1e-9
    dets = sensing.sense(t, due, params.sensors, threats.pos, params.threats.rcs_m2,
                         threats.alive, rng.sensing)
    next_scan = world.next_scan_t.copy()
    while (m := next_scan <= t + 1e-9).any():
        next_scan[m] += params.sensors.scan_period_s[m]

    # share
    sensors_up = np.array([not any(a <= t < b for a, b in w)
                           for w in params.sensors.down_windows], dtype=bool)
    pending, lost = network.transmit(world.pending, t, dets, due, params.sensors, sensors_up,
                                     rng.network)
    _bump(counters, "plots_lost", lost)
    scans, pending = network.deliver(pending, t)

    # track
    tracks, eng = world.tracks, world.eng
    sp = params.sensors
    need = max((len(plots) for _, _, plots in scans), default=0)
    tracks, eng = _grow(tracks, eng, need)
    old_ids = tracks.track_id.copy()
    for s, ts, plots in scans:
        tracks, eng = _grow(tracks, eng, len(plots))
        if len(old_ids) < tracks.capacity:
            old_ids = np.concatenate([old_ids, np.full(tracks.capacity - len(old_ids), -1)])
        tracks, info = tracker_step(tracks, sp.pos[s], plots.z, sp.sigma[s], ts,
                                    float(sp.miss_range_m[s]), params.tracker,
                                    min_el_rad=float(sp.min_el_rad[s]),
                                    max_el_rad=float(sp.max_el_rad[s]))
        for key, n in info.counts().items():
            _bump(counters, key, n)
        if len(info.confirmed_ids):
            events.append(batch("track_confirmed", t, len(info.confirmed_ids),
                                track=info.confirmed_ids))
        if len(info.deleted_ids):
            events.append(batch("track_deleted", t, len(info.deleted_ids),
                                track=info.deleted_ids))
    tracks, gone = delete_stale(tracks, t, params.tracker.max_coast_s)
    if len(gone):
        events.append(batch("track_deleted", t, len(gone), track=gone))
    eng = reset_reused_slots(eng, old_ids, tracks)

    # assess
    assessment = assess(tracks, t, params.assets, params.doctrine)

    # assign
    units = replace(world.units, up=unit_status(params, t),
                    busy_channels=busy_channels(world.rounds, len(params.units.name)))
    flying = in_flight(world.rounds, tracks, assessment.category, params)
    decided = plan(t, tracks, assessment, eng, flying, units, params)

    # engage
    rounds, next_eng = world.rounds, world.next_engagement
    if len(decided):
        rounds, units, eng, next_eng, ev = _launch(
            replace(world, tracks=tracks, units=units, eng=eng), decided, flying, params)
        events += ev
    rounds, killed, ev = resolve(t, dt, rounds, threats, tracks, params, rng.engagement)
    events += ev
    if len(killed):
        threats = kinematics.kill(threats, killed)
    units, ev = reload(units, params, t)
    events += ev
    units = replace(units, busy_channels=busy_channels(rounds, len(params.units.name)))

    return World(t=t, threats=threats, tracks=tracks, units=units, rounds=rounds, eng=eng,
                 pending=pending, next_scan_t=next_scan, next_engagement=next_eng,
                 counters=tuple(sorted(counters.items()))), events


@dataclass
class Recording:
    """Run-0 extras for reports: sampled truth paths and magazine states."""

    every_s: float = 5.0
    paths: list[np.ndarray] = field(default_factory=list)  # rows (t, threat, e, n, u)
    magazine: list[np.ndarray] = field(default_factory=list)  # rows (t, unit, weapon, ready, res)
    _next_t: float = 0.0
    _last_mag: np.ndarray | None = None

    def sample(self, world: World, dt: float) -> None:
        th = world.threats
        if world.t + 1e-9 >= self._next_t:
            idx = np.flatnonzero(th.alive)
            self.paths.append(np.column_stack([np.full(len(idx), world.t), idx, th.pos[idx]]))
            self._next_t += self.every_s
        mag = np.stack([world.units.ready, world.units.reserve], axis=-1)  # [B, W, 2]
        if self._last_mag is None or not np.array_equal(mag, self._last_mag):
            b, w = np.meshgrid(np.arange(mag.shape[0]), np.arange(mag.shape[1]), indexing="ij")
            self.magazine.append(np.column_stack([np.full(b.size, world.t), b.ravel(), w.ravel(),
                                                  mag[..., 0].ravel(), mag[..., 1].ravel()]))
            self._last_mag = mag

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        paths = np.concatenate(self.paths) if self.paths else np.zeros((0, 5))
        mag = np.concatenate(self.magazine) if self.magazine else np.zeros((0, 5))
        return paths, mag


@dataclass(frozen=True)
class RunOutput:
    params: Params  # with this run's threats
    world: World  # final state
    log: EventLog
    recording: Recording | None


def run(base: Params, seed: int, run_index: int = 0, record: bool = False) -> RunOutput:
    """Simulate one run: draw its threats, then step until the end or until nothing is left."""
    rng = Streams.from_seed(seed, run_index)
    params = replace(base, threats=kinematics.make_threats(base.raids, base.assets, rng.geometry))
    world = init_world(params)
    log = EventLog()
    t0 = np.flatnonzero(world.threats.launched)
    if len(t0):
        log.extend([batch("threat_launch", 0.0, len(t0), threat=t0,
                          pos=world.threats.pos[t0])])
    rec = Recording() if record else None
    last_launch = float(params.threats.launch_t.max()) if len(params.threats) else 0.0
    for _ in range(params.n_steps):
        if rec is not None:
            rec.sample(world, params.dt_s)
        world, events = step(world, params, rng)
        log.extend(events)
        if (world.t > last_launch and not world.threats.alive.any()
                and not world.rounds.active.any()):
            break
    if rec is not None:
        rec.sample(world, params.dt_s)
    return RunOutput(params=params, world=world, log=log, recording=rec)
