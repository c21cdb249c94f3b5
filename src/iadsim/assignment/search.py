"""Heuristics for the static WTA problem: greedy maximum marginal return and iterated local
search with closed-form, vectorised shot moves.

Notation: ``q_ij = 1 - p_ij`` (clipped away from 0, ``wta.P_CLIP``), ``V_j = w_j prod_i
q_ij^x_ij`` the expected surviving value of target ``j``. With the ``V_j`` known, every move
below has an exact closed-form change of the objective, because a move touches each target's
product in one factor:

* add a round of weapon ``i`` at ``b``:          ``V_b (q_ib - 1)``
* remove a round of weapon ``i`` from ``a``:     ``V_a (1 / q_ia - 1)``
* relocate (``i``: ``a -> b``, ``a != b``):      the sum of the two
* swap (``i``: ``a -> b`` and ``k``: ``b -> a``): ``V_a (q_ka / q_ia - 1) + V_b (q_ib / q_kb - 1)``

Moves on pairwise disjoint targets add exactly, so each pass evaluates all relocations (an
``[m, n]`` array) or all swaps (``[K, K]`` over the K nonzero entries of ``x``) at once and
applies a batch of improving moves with disjoint targets, best first.

Greedy maximum marginal return (den Broeder, Ellison & Emerling 1959) gives each round in turn
to the pair with the largest ``V_j p_ij``; it is optimal when all weapons are alike
(``p_ij = p_j``), where the problem is a separable concave resource allocation.

The iterated local search (Lourenco, Martin & Stuetzle, "Iterated local search", 2003) alternates
a ruin-and-recreate perturbation (remove the rounds on a few random targets and on the targets
those weapons also cover, refill them greedily) with the relocate/swap descent, keeping the
result when it is no worse. Its trajectory depends only on the seed: the clock is read between
iterations to stop, never to steer, so a run with an iteration limit is reproducible and a run
with a time limit is a prefix of the same trajectory.
"""

from __future__ import annotations

import time

import numpy as np

from iadsim.assignment.wta import Solution, WTAInstance, objective

_EPS = 1e-12  # relative improvement that counts (guards against float noise cycling)


def _values(inst: WTAInstance, x: np.ndarray) -> np.ndarray:
    """V: [n] surviving value per target, from the clipped log-survival."""
    return inst.values * np.exp((x * inst.logq).sum(axis=0))


def greedy_fill(inst: WTAInstance, x: np.ndarray, cap: np.ndarray, v: np.ndarray,
                forbid: np.ndarray | None = None) -> None:
    """Give the free rounds ``cap`` ([m] int) by maximum marginal return; update x and v in place.
    Pairs where ``forbid`` ([m, n] bool) is set get no round.

    Keeps the best target per weapon row and recomputes only the rows whose best target was
    the one just shot at (its column only decreases), so a round costs O(m) plus those rows.
    """
    rows = np.nonzero(cap > 0)[0]
    if rows.size == 0:
        return
    p = 1.0 - inst.q
    if forbid is not None:
        p = np.where(forbid, -1.0, p)  # a negative gain is never taken
    cap_r = cap[rows].copy()
    gain = v[None, :] * p[rows]  # [r, n]
    best_j = np.argmax(gain, axis=1)
    best = gain[np.arange(rows.size), best_j]
    while True:
        r = int(np.argmax(best))
        if not best[r] > 0.0:
            break
        i, j = rows[r], int(best_j[r])
        x[i, j] += 1
        v[j] *= inst.q[i, j]
        cap_r[r] -= 1
        col = v[j] * p[rows, j]
        col[cap_r == 0] = -np.inf
        gain[:, j] = col
        if cap_r[r] == 0:
            gain[r, :] = -np.inf
            best[r] = -np.inf
        redo = np.nonzero((best_j == j) & (cap_r > 0))[0]
        if redo.size:
            bj = np.argmax(gain[redo], axis=1)
            best_j[redo] = bj
            best[redo] = gain[redo, bj]
    cap[rows] = cap_r


def greedy(inst: WTAInstance) -> np.ndarray:
    """Greedy maximum-marginal-return assignment: [m, n] int counts."""
    x = np.zeros(inst.p.shape, dtype=np.int64)
    greedy_fill(inst, x, inst.mu.copy(), inst.values.astype(float).copy())
    return x


def _disjoint(delta: np.ndarray, ta: np.ndarray, tb: np.ndarray, limit: float) -> np.ndarray:
    """Indices of improving moves (delta < limit), best first, whose targets are disjoint."""
    cand = np.nonzero(delta < limit)[0]
    if cand.size == 0:
        return cand
    cand = cand[np.argsort(delta[cand], kind="stable")]
    used: set[int] = set()
    keep = []
    for k in cand.tolist():
        a, b = int(ta[k]), int(tb[k])
        if a in used or b in used:
            continue
        used.add(a)
        used.add(b)
        keep.append(k)
    return np.asarray(keep, dtype=np.int64)


def relocate_pass(inst: WTAInstance, x: np.ndarray, v: np.ndarray, tol: float) -> bool:
    """Apply a batch of improving single-round relocations; True if any was applied."""
    if inst.n < 2:
        return False
    q = inst.q
    g = v[None, :] * (q - 1.0)  # [m, n] change from adding a round
    two = np.argpartition(g, 1, axis=1)[:, :2]  # the two best targets per weapon
    gv = np.take_along_axis(g, two, axis=1)
    order = np.argsort(gv, axis=1)
    two = np.take_along_axis(two, order, axis=1)
    gv = np.take_along_axis(gv, order, axis=1)
    wi, ta = np.nonzero(x)
    rem = v[ta] * (1.0 / q[wi, ta] - 1.0)
    first = two[wi, 0] != ta
    tb = np.where(first, two[wi, 0], two[wi, 1])
    delta = rem + np.where(first, gv[wi, 0], gv[wi, 1])
    sel = _disjoint(delta, ta, tb, -tol)
    if sel.size == 0:
        return False
    i, a, b = wi[sel], ta[sel], tb[sel]
    np.subtract.at(x, (i, a), 1)
    np.add.at(x, (i, b), 1)
    v[a] /= q[i, a]
    v[b] *= q[i, b]
    return True


def swap_pass(inst: WTAInstance, x: np.ndarray, v: np.ndarray, tol: float) -> bool:
    """Apply a batch of improving two-weapon swaps; True if any was applied."""
    q = inst.q
    wi, ta = np.nonzero(x)
    if wi.size < 2:
        return False
    own = q[wi, ta]
    # c[s, t]: change at target ta[s] when weapon wi[t] replaces weapon wi[s] there
    c = v[ta][:, None] * (q[wi[None, :], ta[:, None]] / own[:, None] - 1.0)
    d = c + c.T
    bad = (ta[:, None] == ta[None, :]) | (wi[:, None] == wi[None, :])
    d[bad] = np.inf
    d[np.tril_indices(wi.size)] = np.inf
    best_t = np.argmin(d, axis=1)
    delta = d[np.arange(wi.size), best_t]
    sel = _disjoint(delta, ta, ta[best_t], -tol)
    if sel.size == 0:
        return False
    s, t = sel, best_t[sel]
    i, a, k, b = wi[s], ta[s], wi[t], ta[t]
    np.subtract.at(x, (i, a), 1)
    np.add.at(x, (i, b), 1)
    np.subtract.at(x, (k, b), 1)
    np.add.at(x, (k, a), 1)
    v[a] *= q[k, a] / q[i, a]
    v[b] *= q[i, b] / q[k, b]
    return True


def local_search(inst: WTAInstance, x: np.ndarray, v: np.ndarray | None = None,
                 rng: np.random.Generator | None = None, patience: int = 4,
                 swaps: bool = False, deadline: float | None = None) -> np.ndarray:
    """Descend until no move improves; x updated in place, the values V returned.

    Relocations first (cheap), then the assignment neighbourhood with pools drawn by target
    and by weapon in turn (needs ``rng``) until ``patience`` draws in a row fail, or until
    ``time.perf_counter()`` passes ``deadline``; optionally the full swap neighbourhood. V is
    recomputed from x at the end, so rounding never accumulates.
    """
    if v is None:
        v = _values(inst, x)
    fails = 0
    kinds = ("target", "weapon")
    while True:
        tol = _EPS * max(float(v.sum()), 1e-300)
        if relocate_pass(inst, x, v, tol):
            continue
        if swaps and swap_pass(inst, x, v, tol):
            continue
        if rng is None or fails >= patience:
            break
        if deadline is not None and time.perf_counter() > deadline:
            break
        if assignment_pass(inst, x, v, rng, tol, by=kinds[fails % 2]):
            fails = 0
        else:
            fails += 1
    v[:] = _values(inst, x)
    return v


def _perturb(inst: WTAInstance, x: np.ndarray, v: np.ndarray, rng: np.random.Generator,
             k: int) -> None:
    """Ruin and recreate: free the rounds on k random targets and a random half of the other
    rounds of the weapons that fired at them, then refill greedily with the freed pairs
    forbidden. (Refilling without the ban rebuilt the same solution in ~85% of the draws on
    the mu = 2 benchmark instances: greedy refill plus descent undid the perturbation.)"""
    hit = np.nonzero(x.any(axis=0))[0]
    if hit.size == 0:
        return
    targets = rng.choice(hit, size=min(k, hit.size), replace=False)
    weapons = np.nonzero(x[:, targets].any(axis=1))[0]
    if weapons.size == 0:
        return
    # free a random share of the chosen weapons' rounds, all of them on the chosen targets
    cap = np.zeros(inst.m, dtype=np.int64)
    sub = x[weapons]
    drop = sub.copy()
    drop[:, :] = rng.binomial(sub, 0.5)
    drop[:, targets] = sub[:, targets]
    x[weapons] -= drop
    cap[weapons] = drop.sum(axis=1)
    cols = np.nonzero(drop.any(axis=0))[0]
    v[cols] = inst.values[cols] * np.exp((x[:, cols] * inst.logq[:, cols]).sum(axis=0))
    greedy_fill(inst, x, cap, v, forbid=_ban(inst, weapons, drop))


def _ban(inst: WTAInstance, weapons: np.ndarray, drop: np.ndarray) -> np.ndarray:
    """[m, n] mask of the (weapon, target) pairs whose rounds the perturbation freed."""
    ban = np.zeros(inst.p.shape, dtype=bool)
    ban[weapons] = drop > 0
    return ban


def ils(inst: WTAInstance, time_limit: float = 1.0, seed: int = 0,
        max_iter: int | None = None, x0: np.ndarray | None = None,
        ruin_targets: int = 10, patience: int = 1) -> Solution:
    """Iterated local search from greedy (or ``x0``); anytime.

    Stops at ``time_limit`` seconds or ``max_iter`` perturbations, whichever comes first;
    Ctrl-C returns the best solution so far. Deterministic for a fixed seed and iteration count.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    x = greedy(inst) if x0 is None else np.array(x0, dtype=np.int64)
    history: list[tuple[float, float]] = []
    it = 0
    best_x = x.copy()
    try:
        v = local_search(inst, x, None, rng, patience)
        cur = float(v.sum())
        best_x, best = x.copy(), cur
        history.append((time.perf_counter() - t0, best))
        while (max_iter is None or it < max_iter) and time.perf_counter() - t0 < time_limit:
            it += 1
            trial, tv = x.copy(), v.copy()
            _perturb(inst, trial, tv, rng, ruin_targets)
            tv = local_search(inst, trial, tv, rng, patience)
            val = float(tv.sum())
            if val <= cur * (1.0 + 1e-12):
                x, v, cur = trial, tv, val
                if cur < best * (1.0 - 1e-13):
                    best_x, best = x.copy(), cur
                    history.append((time.perf_counter() - t0, best))
    except KeyboardInterrupt:
        pass
    return Solution(x=best_x, objective=objective(inst, best_x), solver="ils", iterations=it,
                    seconds=time.perf_counter() - t0, history=tuple(history))


def assignment_pass(inst: WTAInstance, x: np.ndarray, v: np.ndarray,
                    rng: np.random.Generator, tol: float, width: int = 12,
                    by: str = "target") -> bool:
    """Very-large-scale neighbourhood move (after Ahuja et al. 2007, in assignment form).

    Take one round off every target that has one (which round: random, in proportion to the
    counts), then give these rounds back, each to a different target, by a linear assignment:
    with ``V'`` the values after the removal, round ``r`` of weapon ``k_r`` at target ``j``
    changes the objective by ``V'_j (q_{k_r j} - 1)`` and, targets being distinct, these add
    exactly. The optimum over all such reassignments (every cyclic and path exchange that
    touches a target at most once) is found by sparse minimum-weight bipartite matching,
    on the edges of each round's ``width`` best targets and each target's ``width`` best rounds.
    Returns True if it improved.
    """
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    wi, ta = np.nonzero(x)
    if wi.size == 0:
        return False
    cnt = x[wi, ta]
    if by == "random":
        # every round independently, about n/2 of them
        rw, rt = np.repeat(wi, cnt), np.repeat(ta, cnt)
        keep = rng.random(rw.size) < min(1.0, 0.5 * inst.n / rw.size)
        k, d = rw[keep], rt[keep]
    else:
        # one round per target (or per weapon): the largest u^(1/count), a draw in proportion to
        # the counts (weighted reservoir sampling)
        key = np.log(rng.random(wi.size)) / cnt
        group = ta if by == "target" else wi
        order = np.lexsort((-key, group))
        first = np.ones(order.size, dtype=bool)
        first[1:] = group[order[1:]] != group[order[:-1]]
        pick = order[first]
        k, d = wi[pick], ta[pick]
    if k.size == 0:
        return False
    # several rounds may leave one target; its value after the removal is exact all the same
    v2 = v.copy()
    np.multiply.at(v2, d, 1.0 / inst.q[k, d])
    r = k.size
    cost = v2[None, :] * (inst.q[k] - 1.0)  # [r, n]
    # candidate edges: each round's `width` best targets, each target's `width` best rounds,
    # and each round's own target (so that a full matching exists)
    wr, wc = min(width, inst.n - 1), min(width, r - 1)
    er = np.argpartition(cost, wr, axis=1)[:, :wr] if wr > 0 else np.empty((r, 0), np.int64)
    ec = np.argpartition(cost, wc, axis=0)[:wc, :] if wc > 0 else np.empty((0, inst.n), np.int64)
    key = np.unique(np.concatenate([
        np.repeat(np.arange(r), er.shape[1]) * inst.n + er.ravel(),
        ec.ravel() * inst.n + np.tile(np.arange(inst.n), ec.shape[0]),
        np.arange(r) * inst.n + d]))
    er, ec = key // inst.n, key % inst.n
    c = cost[er, ec]
    # integer-valued positive weights: explicit zeros would be missing edges, a constant shift
    # per matched row leaves the optimal full matching unchanged, and integers keep the sparse
    # Jonker-Volgenant solver exact (with float ties it can cycle; scipy gh-17269). The
    # rounding (1e-9 of the range) only affects which reassignment is tried: its objective is
    # evaluated exactly below.
    lo, hi = float(c.min()), float(c.max())
    c = np.rint((c - lo) * (1e9 / (hi - lo) if hi > lo else 0.0)) + 1.0
    graph = coo_array((c, (er, ec)), shape=(r, inst.n)).tocsr()
    try:
        rows, match = min_weight_full_bipartite_matching(graph)
    except ValueError:  # no full matching on the candidate edges
        return False
    new = float(v2.sum() + cost[rows, match].sum())
    if not new < float(v.sum()) - tol:
        return False
    np.subtract.at(x, (k, d), 1)
    np.add.at(x, (k[rows], match), 1)
    v[:] = _values(inst, x)
    return True
