"""C2 network: plots travel from each sensor to the central tracker over its link.

Each sensor reaches the command post over one link type from the catalog (wired, line-of-sight
radio, Kulisa-type GEO satellite). A scan's plots leave together and arrive ``latency_s`` later
(one-way), or are lost together with probability ``loss_prob`` (one Bernoulli draw per scan
and sensor). The tracker then processes the arrived scans in measurement-time order; a scan that
arrives after a newer one has updated a track is out of sequence for that track, and the
tracker counts it (see ``tracking.tracker``).

The queue is a small struct of arrays; ``transmit`` and ``deliver`` are pure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iadsim.params import SensorParams
from iadsim.state import Detections


@dataclass(frozen=True, slots=True)
class Pending:
    """Plots on the links, not yet delivered."""

    plots: Detections
    arrive_t: np.ndarray  # [P] s
    scan_sensor: np.ndarray  # [Q] int, every scan in transit (empty scans too: they carry misses)
    scan_t: np.ndarray  # [Q] s, its measurement time
    scan_arrive_t: np.ndarray  # [Q] s

    @staticmethod
    def empty() -> Pending:
        return Pending(Detections.empty(), np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0),
                       np.zeros(0))


def _cat(a: Detections, b: Detections) -> Detections:
    return Detections(sensor=np.concatenate([a.sensor, b.sensor]), t=np.concatenate([a.t, b.t]),
                      z=np.concatenate([a.z, b.z]), truth=np.concatenate([a.truth, b.truth]))


def _take(d: Detections, idx: np.ndarray) -> Detections:
    return Detections(sensor=d.sensor[idx], t=d.t[idx], z=d.z[idx], truth=d.truth[idx])


def transmit(pending: Pending, t: float, dets: Detections, due: np.ndarray,
             sensors: SensorParams, up: np.ndarray, rng: np.random.Generator
             ) -> tuple[Pending, int]:
    """Put this frame's plots on the links. ``due`` [S]: sensors that scanned this frame.

    One uniform per due sensor, in sensor order, decides a scan's loss (drawn whether or not
    the scan had plots, so the stream does not depend on what was detected). Plots of a sensor
    whose link is down (``up`` false) are lost. Returns the queue and the number of plots lost.
    """
    scanned = np.flatnonzero(due)
    u = rng.random(len(scanned))
    lost_sensor = np.zeros(len(sensors), dtype=bool)
    lost_sensor[scanned] = (u < sensors.loss_prob[scanned]) | ~up[scanned]
    sent_scans = scanned[~lost_sensor[scanned]]
    scan_t = np.full(len(sent_scans), t)
    keep = ~lost_sensor[dets.sensor]
    sent = _take(dets, np.flatnonzero(keep))
    out = Pending(
        plots=_cat(pending.plots, sent),
        arrive_t=np.concatenate([pending.arrive_t, sent.t + sensors.latency_s[sent.sensor]]),
        scan_sensor=np.concatenate([pending.scan_sensor, sent_scans]),
        scan_t=np.concatenate([pending.scan_t, scan_t]),
        scan_arrive_t=np.concatenate([pending.scan_arrive_t,
                                      scan_t + sensors.latency_s[sent_scans]]),
    )
    return out, int((~keep).sum())


def deliver(pending: Pending, t: float) -> tuple[list[tuple[int, float, Detections]], Pending]:
    """Plots that have arrived by ``t``, grouped in scans ``(sensor, time, plots)`` ordered by
    (measurement time, sensor), and the rest of the queue."""
    arrived = pending.arrive_t <= t + 1e-9
    scan_in = pending.scan_arrive_t <= t + 1e-9
    if not scan_in.any():
        return [], pending
    got = _take(pending.plots, np.flatnonzero(arrived))
    rest = Pending(_take(pending.plots, np.flatnonzero(~arrived)), pending.arrive_t[~arrived],
                   pending.scan_sensor[~scan_in], pending.scan_t[~scan_in],
                   pending.scan_arrive_t[~scan_in])
    s_sensor, s_t = pending.scan_sensor[scan_in], pending.scan_t[scan_in]
    scans = []
    for q in np.lexsort((s_sensor, s_t)):
        mine = np.flatnonzero((got.sensor == s_sensor[q]) & (got.t == s_t[q]))
        scans.append((int(s_sensor[q]), float(s_t[q]), _take(got, mine)))
    return scans, rest
