"""2-D tracker with an IMM (CV + coordinated turn) filter and JPDA or GNN association.

Same input and output as :func:`iadsim.tracking.cartesian.run_tracker` (benchmark format,
``/work/shared/tracking/FORMAT.md``); the confirmed tracks are filtered by
:mod:`iadsim.tracking.imm` and associated by :mod:`iadsim.tracking.jpda` (or GNN).

Scan cycle (confirmed tracks first, then the initiator, as in ``cartesian.step``):

1. IMM mixing and model-conditioned prediction of every confirmed track. Gate
   ``nu^T S_j^-1 nu < g^2`` (``g`` from ``gate_prob``, 2 dof) with each model's prediction
   ``j``; a detection in any model's gate is a candidate (``cartesian.gate_pairs`` per model).
   The moment-matched mixture would do for a track that is sure of its model, but at the onset
   of a turn ``mu_CT`` is still small and the first off-line detections fall outside the
   mixture's gate: the track then loses the target in the turn.
2. Association:

   - ``assoc="jpda"``: pair likelihood ``L_ti = sum_j cbar_j N(z_i; H x_j, S_j)`` (the IMM
     mixture; Blom & Bloem, IMMJPDA, IEEE TAC 45(2), 2000), JPDA marginals from ``Pd``, ``Pg``
     and the clutter density of params.json (:func:`jpda.jpda_marginals`);
   - ``assoc="gnn"``: ``cartesian.gnn`` on the least model Mahalanobis distance, weight 1 on
     the pair.

3. IMM-PDA update (:func:`imm.imm_update`) and combination. A track counts as "updated" when
   ``beta_t0 < 0.5``. After ``delete_misses`` consecutive scans without, it is *lost*: no longer
   reported, but still predicted and associated for ``lost_scans`` more scans, and reported
   again under its id as soon as it is updated. With ``Pd = 0.9`` a target goes undetected three
   scans running about once in 1,000 scans; deleting its track then, as Stone Soup's
   ``UpdateTimeStepsDeleter`` does, and starting a new one is an id switch (most of Stone Soup
   GNN's on the manoeuvre benchmark). Not reporting the lost track keeps the cost of a target
   that has really gone (the reported false track) as it was. A track is deleted after
   ``delete_misses + lost_scans`` misses, or when ``trace(P_pos) > 2 max_pos_sigma_m^2``.
4. Detections whose total association weight ``sum_t beta_ti`` is below ``free_weight`` (for
   GNN: unassigned ones) go to the initiator: the same M-of-N logic as ``cartesian`` (tentative
   CV tracks, GNN, one-point initiation, confirmed after ``min_points`` updates, deleted after
   ``holding_misses`` misses). A confirmed tentative track starts its IMM with
   ``omega = 0`` (std ``omega_sigma0``) and ``mu = (1 - mu0_ct, mu0_ct)``.
5. Duplicate pruning (JPDA tracks can coalesce onto one target): of two tracks whose combined
   states differ by ``(dx)^T (P_a + P_b)^-1 (dx) < dup_d2`` over position and velocity, a lost
   one is dropped before a reported one, else the younger (larger id).

``filter="cv"`` runs the same machinery with the CV model only (a Kalman/PDA filter) and the
process noise of ``cartesian`` (``q = base.accel_psd``), i.e. JPDA on the GNN tracker's model.
Deterministic: no random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from iadsim.tracking import imm, jpda
from iadsim.tracking.cartesian import (
    CartesianParams,
    Tracks2D,
    cv_model,
    gate_pairs,
    gnn,
    initiate,
    innovation_cov,
    scan_index,
    update,
)
from iadsim.tracking.cartesian import predict as cv_predict4

_I64 = np.int64
_NEAR_M = 2000.0  # m, only tracks closer than this are tested as duplicates


@dataclass(frozen=True, slots=True)
class AdvancedParams:
    """Sensor values (``dt``, ``sigma``, ``pd``, ``clutter_density``) plus tracker choices."""

    base: CartesianParams  # dt, sigma, gate, initiation and deletion settings
    pd: float = 0.9
    clutter_density: float = 1e-9  # false alarms per m^2 per scan
    models: imm.IMMModels = field(default_factory=imm.IMMModels)
    free_weight: float = 0.5  # detections with sum_t beta_ti below this feed the initiator
    max_exact: int = 10  # JPDA clusters with more tracks use the cheap approximation
    dup_d2: float = 4.0  # duplicate-track threshold (4-D Mahalanobis^2); 0 disables
    lost_scans: int = 4  # scans a track is kept, unreported, after ``base.delete_misses`` misses
    union_gate: bool = True  # gate with every model's prediction (else the combined one)

    def __post_init__(self) -> None:
        if not (0 < self.pd <= 1 and self.clutter_density > 0 and self.lost_scans >= 0
                and 0 <= self.free_weight <= 1 and self.max_exact >= 1):
            raise ValueError(f"invalid tracker settings: pd {self.pd}, clutter_density "
                             f"{self.clutter_density}, lost_scans {self.lost_scans}, "
                             f"free_weight {self.free_weight}, max_exact {self.max_exact}")

    @staticmethod
    def from_params_json(prm: dict, **kw) -> AdvancedParams:
        base = kw.pop("base", None) or CartesianParams(dt=float(prm["dt"]),
                                                       sigma=float(prm["sigma"]))
        return AdvancedParams(base=base, pd=float(prm["pd"]),
                              clutter_density=float(prm["clutter_density_per_m2"]), **kw)


@dataclass(slots=True)
class IMMTracks:
    """Confirmed IMM tracks (K rows, M models)."""

    x: np.ndarray  # [K, M, 5]
    P: np.ndarray  # [K, M, 5, 5]
    mu: np.ndarray  # [K, M]
    misses: np.ndarray  # [K] int, consecutive scans without an update
    ids: np.ndarray  # [K] int
    lost: np.ndarray  # [K] bool, not reported (``misses >= delete_misses`` at the last scan)

    @staticmethod
    def empty(m: int) -> IMMTracks:
        return IMMTracks(np.zeros((0, m, 5)), np.zeros((0, m, 5, 5)), np.zeros((0, m)),
                         np.zeros(0, _I64), np.zeros(0, _I64), np.zeros(0, bool))

    def __len__(self) -> int:
        return self.x.shape[0]

    def _fields(self) -> tuple:
        return self.x, self.P, self.mu, self.misses, self.ids, self.lost

    def take(self, idx) -> IMMTracks:
        return IMMTracks(*(a[idx] for a in self._fields()))

    def concat(self, o: IMMTracks) -> IMMTracks:
        return IMMTracks(*(np.concatenate([a, b]) for a, b in zip(
            self._fields(), o._fields(), strict=True)))


def from_tentative(t: Tracks2D, ids: np.ndarray, models: imm.IMMModels) -> IMMTracks:
    """IMM tracks from confirmed tentative CV tracks (omega = 0, prior model probabilities)."""
    k, m = len(t), len(models.models)
    x = np.zeros((k, m, 5))
    x[:, :, :4] = t.x[:, None, :]
    P = np.zeros((k, m, 5, 5))
    P[:, :, :4, :4] = t.P[:, None]
    P[:, :, 4, 4] = models.omega_sigma0**2
    mu = np.broadcast_to(models.mu0(), (k, m)).copy()
    return IMMTracks(x, P, mu, np.zeros(k, _I64), ids, np.zeros(k, bool))


def _tentative_step(hold: Tracks2D, z: np.ndarray, dt: float, p: CartesianParams):
    """Predict, GNN-associate and update tentative tracks; returns (tracks, used detections)."""
    F, Q = cv_model(dt, p.accel_psd)
    x, P = cv_predict4(hold.x, hold.P, F, Q)
    rows, cols, d = gate_pairs(x[:, :2], innovation_cov(P, p.sigma), z, p.gate)
    a = gnn(len(hold), z.shape[0], rows, cols, d, p.gate)
    hit = a >= 0
    if hit.any():
        x[hit], P[hit] = update(x[hit], P[hit], z[a[hit]], p.sigma)
    return Tracks2D(x, P, hold.hits + hit, np.where(hit, 0, hold.misses + 1), hold.ids), a


def _gate_union(xs: np.ndarray, Ps: np.ndarray, z: np.ndarray, sigma: float, gate: float):
    """Pairs in the gate of any model: ``(rows, cols, d)``, ``d`` the least model distance.

    ``xs [K, M, 5]``, ``Ps [K, M, 5, 5]`` model-conditioned predictions. The moment-matched
    mixture has the spread of the models, but weighted by ``mu``: a turn model with a low
    probability hardly widens it, so the first detections of a turn would fall outside.
    """
    k_n, m_n = xs.shape[:2]
    R = np.eye(2) * sigma**2
    rs, cs, ds = [], [], []
    for j in range(m_n):
        r, c, d = gate_pairs(xs[:, j, :2], Ps[:, j, :2, :2] + R, z, gate)
        rs.append(r)
        cs.append(c)
        ds.append(d)
    key = np.concatenate(rs) * max(z.shape[0], 1) + np.concatenate(cs)
    d = np.concatenate(ds)
    order = np.lexsort((d, key))
    key, d = key[order], d[order]
    first = np.r_[True, key[1:] != key[:-1]] if key.size else np.zeros(0, bool)
    key, d = key[first], d[first]
    rows, cols = np.divmod(key, max(z.shape[0], 1))
    return rows.astype(_I64), cols.astype(_I64), d


def _prune_duplicates(conf: IMMTracks, p: AdvancedParams) -> IMMTracks:
    """Drop one of two tracks on the same target (JPDA tracks can coalesce).

    Two tracks are duplicates when their combined states differ by ``(dx)^T (P_a + P_b)^-1 dx
    < dup_d2`` over position and velocity. The one kept is the reported one if only one is (a
    lost track that reacquires a target another track already holds would otherwise take the
    target back: one more id switch), else the older (smaller id).
    """
    if len(conf) < 2 or p.dup_d2 <= 0:
        return conf
    xc, Pc = imm.combine(conf.mu, conf.x, conf.P)
    i, j = np.triu_indices(len(conf), k=1)
    near = np.einsum("pi,pi->p", xc[i, :2] - xc[j, :2], xc[i, :2] - xc[j, :2]) < _NEAR_M**2
    i, j = i[near], j[near]
    if i.size == 0:
        return conf
    dx = xc[i, :4] - xc[j, :4]
    S = Pc[i, :4, :4] + Pc[j, :4, :4]
    d2 = np.einsum("pi,pi->p", dx, np.linalg.solve(S, dx[..., None])[..., 0])
    drop = np.zeros(len(conf), bool)
    for q in np.flatnonzero(d2 < p.dup_d2):
        a, b = i[q], j[q]
        if drop[a] or drop[b]:
            continue
        if conf.lost[a] != conf.lost[b]:
            drop[a if conf.lost[a] else b] = True
        else:
            drop[a if conf.ids[a] > conf.ids[b] else b] = True
    return conf.take(~drop)


def step(conf: IMMTracks, hold: Tracks2D, z: np.ndarray, next_id: int, p: AdvancedParams,
         assoc: str = "jpda") -> tuple[IMMTracks, Tracks2D, int]:
    """One scan of the tracker (see the module docstring)."""
    b, mdl = p.base, p.models
    dt = b.dt
    free = np.ones(z.shape[0], bool)
    if len(conf):
        cbar, x0, P0 = imm.mix(conf.mu, conf.x, conf.P, mdl.transition_matrix())
        xs, Ps = imm.predict(mdl, x0, P0, dt)
        if p.union_gate:
            rows, cols, d = _gate_union(xs, Ps, z, b.sigma, b.gate)
        else:
            xc, Pc = imm.combine(cbar, xs, Ps)
            rows, cols, d = gate_pairs(xc[:, :2], Pc[:, :2, :2] + np.eye(2) * b.sigma**2, z,
                                       b.gate)
        if assoc == "jpda":
            lik, _, _ = imm.meas_likelihood(xs, Ps, b.sigma, rows, z[cols])
            lik = np.einsum("pj,pj->p", cbar[rows], lik)
            a = jpda.pair_weights(lik, p.pd, b.gate_prob, p.clutter_density)
            beta, beta0, _ = jpda.jpda_marginals(len(conf), z.shape[0], rows, cols, a,
                                                 p.max_exact)
            wsum = np.bincount(cols, weights=beta, minlength=z.shape[0])
            free = wsum < p.free_weight
        elif assoc == "gnn":
            asg = gnn(len(conf), z.shape[0], rows, cols, d, b.gate)
            beta = (asg[rows] == cols).astype(float)
            beta0 = (asg < 0).astype(float)
            free[asg[asg >= 0]] = False
        else:
            raise ValueError(f"assoc must be 'jpda' or 'gnn', not {assoc!r}")
        x, P, mu = imm.imm_update(xs, Ps, cbar, b.sigma, rows, z[cols], beta, beta0)
        misses = np.where(beta0 < 0.5, 0, conf.misses + 1)
        conf = IMMTracks(x, P, mu, misses, conf.ids, conf.lost)
        _, Pc = imm.combine(mu, x, P)
        doomed = (conf.misses >= b.delete_misses + p.lost_scans) | (
            Pc[:, 0, 0] + Pc[:, 1, 1] > 2.0 * b.max_pos_sigma_m**2)
        conf = conf.take(~doomed)
    z_left = z[free]
    hold, used = _tentative_step(hold, z_left, dt, b)
    sure = hold.hits >= b.min_points
    new = hold.take(sure)
    conf = conf.concat(from_tentative(new, np.arange(next_id, next_id + len(new), dtype=_I64),
                                      mdl))
    conf = _prune_duplicates(conf, p)
    conf = replace(conf, lost=conf.misses >= b.delete_misses)
    hold = hold.take(~sure)
    trace = hold.P[:, 0, 0] + hold.P[:, 1, 1]
    hold = hold.take(~((hold.misses >= b.holding_misses)
                       | (trace > 2.0 * b.max_pos_sigma_m**2)))
    unused = np.ones(z_left.shape[0], bool)
    unused[used[used >= 0]] = False
    hold = hold.concat(initiate(z_left[unused], b))
    return conf, hold, next_id + len(new)


def run_tracker_advanced(times: np.ndarray, xy: np.ndarray, params: AdvancedParams,
                         filter: str = "imm", assoc: str = "jpda",
                         n_scans: int | None = None) -> np.ndarray:
    """Track a detection list; returns the ``[R, 6]`` table of ``cartesian.run_tracker``.

    ``filter``: ``"imm"`` (CV + CT) or ``"cv"`` (CV only); ``assoc``: ``"jpda"`` or ``"gnn"``.
    """
    if filter == "cv":
        params = replace(params, models=replace(params.models, models=("cv",),
                                                q_cv=params.base.accel_psd))
    elif filter != "imm":
        raise ValueError(f"filter must be 'imm' or 'cv', not {filter!r}")
    dt = params.base.dt
    k = scan_index(times, dt)
    xy = np.asarray(xy, float).reshape(-1, 2)
    if n_scans is None:
        n_scans = int(k[-1]) + 1 if k.size else 0
    starts = np.searchsorted(k, np.arange(n_scans + 1), side="left")
    conf = IMMTracks.empty(len(params.models.models))
    hold, next_id = Tracks2D.empty(), 0
    out = []
    for s in range(n_scans):
        conf, hold, next_id = step(conf, hold, xy[starts[s]:starts[s + 1]], next_id, params,
                                   assoc)
        shown = conf.take(~conf.lost)
        order = np.argsort(shown.ids, kind="stable")
        xc, _ = imm.combine(shown.mu, shown.x, shown.P)
        rows = np.empty((len(shown), 6))
        rows[:, 0] = s * dt
        rows[:, 1] = shown.ids[order]
        rows[:, 2:] = xc[order, :4]
        out.append(rows)
    return np.concatenate(out) if out else np.zeros((0, 6))
