"""World state: frozen dataclasses of arrays (struct of arrays).

An entity is an index into its arrays. Shapes and units are in the field comments; every
array is SI (metres, seconds, radians) in the local frame:

* ``e, n`` horizontal coordinates [m] in the east-north tangent plane at the scenario origin
  (``pymap3d.geodetic2enu``), and
* ``u`` height [m] above the scenario's reference ground (the origin's ``alt_m`` above the
  WGS84 ellipsoid; not the tangent-plane "up"). The earth is a bald 4/3-radius sphere at that
  level: no terrain.

Earth curvature therefore does not bend the horizontal plane; it enters where it matters for an
air-defense engagement: the radar horizon and the apparent elevation angle (see ``geo``).

Phases never mutate these objects: they build new ones with ``dataclasses.replace`` on copied
arrays. Truth-only fields (``Detections.truth``) are read by metrics, never by perception.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

# Track status codes.
TRACK_FREE = 0
TRACK_TENTATIVE = 1
TRACK_CONFIRMED = 2


@dataclass(frozen=True, slots=True)
class Threats:
    """Truth state of every threat of the scenario (capacity = total count of all raids)."""

    pos: np.ndarray  # [N, 3] m, (e, n, u)
    vel: np.ndarray  # [N, 3] m/s
    alive: np.ndarray  # [N] bool: launched, not killed, not yet arrived
    launched: np.ndarray  # [N] bool: has appeared in the world (launch_t <= t)
    done: np.ndarray  # [N] bool: killed or arrived (left the simulation)
    flown: np.ndarray  # [N] m: ground distance flown along the route (cruise profile)


@dataclass(frozen=True, slots=True)
class Detections:
    """Plots of one frame from every sensor whose scan was due (and clutter)."""

    sensor: np.ndarray  # [D] int, index of the sensor
    t: np.ndarray  # [D] s, measurement time
    z: np.ndarray  # [D, 3] (range m, azimuth rad from north clockwise, elevation rad)
    truth: np.ndarray  # [D] int, threat index or -1 for clutter (metrics only)

    @staticmethod
    def empty() -> Detections:
        return Detections(
            sensor=np.zeros(0, dtype=np.int64),
            t=np.zeros(0),
            z=np.zeros((0, 3)),
            truth=np.zeros(0, dtype=np.int64),
        )

    def __len__(self) -> int:
        return int(self.t.shape[0])


@dataclass(frozen=True, slots=True)
class Tracks:
    """The central track file (capacity K, ``status == TRACK_FREE`` marks an unused slot)."""

    x: np.ndarray  # [K, 6] (e, n, u m; ve, vn, vu m/s)
    P: np.ndarray  # [K, 6, 6] covariance, SI
    t_update: np.ndarray  # [K] s, time of the last measurement update
    t_init: np.ndarray  # [K] s, time the track was started
    hits: np.ndarray  # [K] int, number of updates
    misses: np.ndarray  # [K] int, consecutive scans in coverage without an update
    n_scans: np.ndarray  # [K] int, scans in coverage since initiation (for M-of-N)
    status: np.ndarray  # [K] int, TRACK_FREE | TRACK_TENTATIVE | TRACK_CONFIRMED
    track_id: np.ndarray  # [K] int, never reused within a run
    next_id: int  # next id to hand out
    # IMM filter only (``tracker.filter: imm``), else None; x, P above are then the combination
    mu: np.ndarray | None = None  # [K, M] model probabilities
    xm: np.ndarray | None = None  # [K, M, 6] per-model states
    Pm: np.ndarray | None = None  # [K, M, 6, 6] per-model covariances

    @staticmethod
    def empty(capacity: int, models: int = 0) -> Tracks:
        if models:
            return replace(
                Tracks.empty(capacity),
                mu=np.full((capacity, models), 1.0 / models),
                xm=np.zeros((capacity, models, 6)),
                Pm=np.tile(np.eye(6), (capacity, models, 1, 1)),
            )
        return Tracks(
            x=np.zeros((capacity, 6)),
            P=np.tile(np.eye(6), (capacity, 1, 1)),
            t_update=np.zeros(capacity),
            t_init=np.zeros(capacity),
            hits=np.zeros(capacity, dtype=np.int64),
            misses=np.zeros(capacity, dtype=np.int64),
            n_scans=np.zeros(capacity, dtype=np.int64),
            status=np.zeros(capacity, dtype=np.int64),
            track_id=np.full(capacity, -1, dtype=np.int64),
            next_id=0,
        )

    @property
    def capacity(self) -> int:
        return int(self.status.shape[0])


@dataclass(frozen=True, slots=True)
class Assessment:
    """Threat evaluation of every track slot (valid where the track is confirmed)."""

    tti: np.ndarray  # [K] s, predicted time to impact on / release at the asset at risk (inf: none)
    impact: np.ndarray  # [K, 3] m, predicted impact / closest-approach point
    asset: np.ndarray  # [K] int, asset at risk (-1: none)
    category: np.ndarray  # [K] int, perceived class index into THREAT_CLASSES (from kinematics)
    value: np.ndarray  # [K] threat value (asset value at risk, 0 if none)
    speed: np.ndarray  # [K] m/s, estimated speed


@dataclass(frozen=True, slots=True)
class FireUnits:
    """Dynamic state of fire units; one magazine column per interceptor type of the scenario."""

    ready: np.ndarray  # [B, I] int, rounds on launchers by interceptor type
    reserve: np.ndarray  # [B, I] int, reload stock by interceptor type
    reload_done_t: np.ndarray  # [B] s, end of the reload in progress (inf: none)
    reload_type: np.ndarray  # [B] int, interceptor type being reloaded (-1: none)
    reload_n: np.ndarray  # [B] int, rounds in the reload in progress
    busy_channels: np.ndarray  # [B] int, engagements in flight
    up: np.ndarray  # [B] bool


@dataclass(frozen=True, slots=True)
class Interceptors:
    """Rounds in flight (capacity M; ``active`` marks a round in flight)."""

    unit: np.ndarray  # [M] int, firing unit
    itype: np.ndarray  # [M] int, interceptor type index
    track: np.ndarray  # [M] int, track slot it was fired at
    track_id: np.ndarray  # [M] int, track id it was fired at
    engagement: np.ndarray  # [M] int, engagement number (rounds of one salvo share it)
    launch_pos: np.ndarray  # [M, 3] m
    aim: np.ndarray  # [M, 3] m, predicted intercept point at launch
    launch_t: np.ndarray  # [M] s
    intercept_t: np.ndarray  # [M] s
    active: np.ndarray  # [M] bool

    @staticmethod
    def empty(capacity: int) -> Interceptors:
        return Interceptors(
            unit=np.zeros(capacity, dtype=np.int64),
            itype=np.zeros(capacity, dtype=np.int64),
            track=np.zeros(capacity, dtype=np.int64),
            track_id=np.zeros(capacity, dtype=np.int64),
            engagement=np.zeros(capacity, dtype=np.int64),
            launch_pos=np.zeros((capacity, 3)),
            aim=np.zeros((capacity, 3)),
            launch_t=np.zeros(capacity),
            intercept_t=np.zeros(capacity),
            active=np.zeros(capacity, dtype=bool),
        )


@dataclass(frozen=True, slots=True)
class Engagements:
    """Per-track engagement bookkeeping, by track slot (what the defense knows it has done)."""

    shots: np.ndarray  # [K, B] int, engagements (salvos) fired at the track by each fire unit
    last_intercept_t: np.ndarray  # [K] s, planned intercept time of the last salvo (-inf: none)
    volley: np.ndarray  # [K] int, salvos fired at the track since its last look

    @staticmethod
    def empty(capacity: int, units: int) -> Engagements:
        return Engagements(shots=np.zeros((capacity, units), dtype=np.int64),
                           last_intercept_t=np.full(capacity, -np.inf),
                           volley=np.zeros(capacity, dtype=np.int64))

    def grown(self, extra: int) -> Engagements:
        """The same bookkeeping with ``extra`` empty slots appended."""
        more = Engagements.empty(extra, self.shots.shape[1])
        return Engagements(*(np.concatenate([getattr(self, f), getattr(more, f)])
                             for f in ("shots", "last_intercept_t", "volley")))


@dataclass(frozen=True, slots=True)
class InFlight:
    """What the defense has in the air, by track slot (rounds at a replaced track id do not
    count)."""

    salvos: np.ndarray  # [K] int, engagements (salvos) in flight at the track
    survival: np.ndarray  # [K] estimated probability the track survives the rounds in flight
