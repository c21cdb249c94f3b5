"""Static weapon-target assignment (WTA): instance, file format, objective, solution files.

Weapons ``i = 0..m-1`` each hold ``mu_i`` rounds; targets ``j = 0..n-1`` have value ``w_j``;
one round of weapon ``i`` kills target ``j`` with probability ``p_ij``, independently. The static
WTA problem (Manne 1958; Ahuja et al., Operations Research 55(6), 2007; Andersen, Pavlikov &
Toffolo, Annals of Operations Research, 2022) is

    minimise  F(x) = sum_j w_j prod_i (1 - p_ij)^x_ij
    over      integer x_ij >= 0,  sum_j x_ij <= mu_i,

the expected value of the targets that survive. ``x`` is a dense ``[m, n]`` count matrix.

File format (the benchmark files of Andersen et al.; plain or gzipped): the first line is
``m n mu``; then ``n`` lines with one target value each; then ``m * n`` lines ``i j p_ij``
with 0-based indices, every pair exactly once (in any order). Blank lines are ignored.
``read_instance`` names the file and line of the first malformed entry.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# p_ij = 1 makes ln(1 - p) infinite; the working arrays clip p to this so that the closed-form
# move deltas (which divide by 1 - p) stay finite. Objective values are always recomputed from
# the exact p by ``objective`` / ``evaluate_shots``.
P_CLIP = 1.0 - 1e-12


class WTAFormatError(ValueError):
    """A malformed instance or solution file; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class WTAInstance:
    """A static WTA instance (read-only arrays).

    values: [n] target values w_j >= 0
    p:      [m, n] single-shot kill probabilities in [0, 1]
    mu:     [m] integer weapon capacities (rounds) >= 0
    """

    values: np.ndarray
    p: np.ndarray
    mu: np.ndarray
    name: str = "wta"
    # derived, computed once in __post_init__ (frozen: set through object.__setattr__)
    q: np.ndarray = field(init=False, repr=False)  # [m, n] 1 - p, clipped away from 0
    logq: np.ndarray = field(init=False, repr=False)  # [m, n] ln(1 - p) <= 0, finite

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=float)
        p = np.asarray(self.p, dtype=float)
        mu = np.asarray(self.mu)
        if values.ndim != 1 or p.ndim != 2 or p.shape[1] != values.size:
            raise ValueError(f"{self.name}: p must be [m, n] with n = len(values); got "
                             f"p {p.shape}, values {values.shape}")
        if mu.ndim == 0:
            mu = np.full(p.shape[0], int(mu))
        if mu.shape != (p.shape[0],) or not np.all(np.equal(np.mod(mu, 1), 0)):
            raise ValueError(f"{self.name}: mu must be {p.shape[0]} integers, got {mu!r}")
        mu = mu.astype(np.int64)
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError(f"{self.name}: target values must be finite and >= 0")
        if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
            raise ValueError(f"{self.name}: kill probabilities must lie in [0, 1]")
        if np.any(mu < 0):
            raise ValueError(f"{self.name}: capacities mu must be >= 0")
        for name, arr in (("values", values), ("p", p), ("mu", mu)):
            arr = arr.copy()
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        q = 1.0 - np.minimum(p, P_CLIP)
        logq = np.log(q)
        q.setflags(write=False)
        logq.setflags(write=False)
        object.__setattr__(self, "q", q)
        object.__setattr__(self, "logq", logq)

    @property
    def m(self) -> int:
        return int(self.p.shape[0])

    @property
    def n(self) -> int:
        return int(self.p.shape[1])

    def check(self, x: np.ndarray) -> None:
        """Raise ValueError unless ``x`` is a feasible [m, n] non-negative integer matrix."""
        x = np.asarray(x)
        if x.shape != self.p.shape:
            raise ValueError(f"assignment shape {x.shape} != {self.p.shape}")
        if np.any(x < 0):
            raise ValueError("negative shot count")
        over = np.nonzero(x.sum(axis=1) > self.mu)[0]
        if over.size:
            i = int(over[0])
            raise ValueError(f"weapon {i} fires {int(x[i].sum())} rounds > capacity {self.mu[i]}")


@dataclass(frozen=True, slots=True)
class Solution:
    """A feasible assignment with its objective and (if known) a certified lower bound.

    x: [m, n] int shot counts. ``lower_bound`` is -inf when no bound was computed.
    ``iterations`` counts the solver's outer iterations (for anytime solvers it depends on the
    time limit, the result for a fixed iteration count does not).
    """

    x: np.ndarray
    objective: float
    solver: str
    lower_bound: float = -math.inf
    iterations: int = 0
    seconds: float = 0.0
    history: tuple[tuple[float, float], ...] = ()  # (seconds, objective) at each improvement

    def shots(self) -> list[list[int]]:
        """``[[weapon, target, count], ...]`` for the nonzero counts, row-major order."""
        i, j = np.nonzero(self.x)
        return [[int(a), int(b), int(self.x[a, b])] for a, b in zip(i, j, strict=True)]


def objective(inst: WTAInstance, x: np.ndarray) -> float:
    """F(x) = sum_j w_j prod_i (1 - p_ij)^x_ij, vectorised, from the exact (unclipped) p."""
    surv = np.prod(np.power(1.0 - inst.p, x), axis=0)
    return float(inst.values @ surv)


def evaluate_shots(inst: WTAInstance, shots: list[list[int]]) -> float:
    """Independent evaluator: the objective of a shot list ``[[weapon, target, count], ...]``.

    Plain Python over the listed shots (no solver state, no clipped arrays), checking indices,
    counts and capacities; raises ValueError on an infeasible or malformed list.
    """
    used = [0] * inst.m
    survive = [1.0] * inst.n
    for k, s in enumerate(shots):
        if len(s) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in s):
            raise ValueError(f"shot {k}: expected [weapon, target, count] integers, got {s!r}")
        i, j, c = s
        if not (0 <= i < inst.m and 0 <= j < inst.n) or c < 0:
            raise ValueError(f"shot {k}: {s!r} out of range (m={inst.m}, n={inst.n})")
        used[i] += c
        if used[i] > inst.mu[i]:
            raise ValueError(f"shot {k}: weapon {i} exceeds its capacity {int(inst.mu[i])}")
        survive[j] *= (1.0 - float(inst.p[i, j])) ** c
    return math.fsum(float(w) * s for w, s in zip(inst.values, survive, strict=True))


def _open_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("ascii")


def read_instance(path: str | Path) -> WTAInstance:
    """Read an instance file (``.txt`` or ``.txt.gz``); WTAFormatError names file and line."""
    path = Path(path)
    try:
        text = _open_text(path)
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as e:
        raise WTAFormatError(f"{path}: cannot read: {e}") from e
    lines = [(k + 1, ln.split()) for k, ln in enumerate(text.splitlines()) if ln.strip()]

    def bad(lineno: int, msg: str) -> WTAFormatError:
        return WTAFormatError(f"{path}, line {lineno}: {msg}")

    if not lines:
        raise WTAFormatError(f"{path}: empty file, expected a header line 'm n mu'")
    hline, head = lines[0]
    try:
        m, n, mu = (int(t) for t in head)
    except ValueError:
        raise bad(hline, f"header must be three integers 'm n mu', got {' '.join(head)!r}") \
            from None
    if m <= 0 or n <= 0 or mu < 0:
        raise bad(hline, f"header needs m > 0, n > 0, mu >= 0, got m={m} n={n} mu={mu}")
    want = 1 + n + m * n
    if len(lines) != want:
        got = len(lines) - 1
        raise WTAFormatError(
            f"{path}: expected {n} target values and {m * n} probability lines (m*n, every pair "
            f"once) after the header, found {got} non-blank lines"
            + (f" (last line {lines[-1][0]})" if got else ""))
    values = np.empty(n)
    for k, (lineno, toks) in enumerate(lines[1:1 + n]):
        if len(toks) != 1:
            raise bad(lineno, f"target value line must hold one number, got {len(toks)} fields")
        try:
            v = float(toks[0])
        except ValueError:
            raise bad(lineno, f"target value {toks[0]!r} is not a number") from None
        if not math.isfinite(v) or v < 0:
            raise bad(lineno, f"target value {toks[0]} must be finite and >= 0")
        values[k] = v
    body = lines[1 + n:]
    nf = np.fromiter((len(t) for _, t in body), dtype=np.int64, count=len(body))
    if np.any(nf != 3):
        k = int(np.argmax(nf != 3))
        raise bad(body[k][0], f"expected 'i j p' (3 fields), got {nf[k]} fields")
    try:
        arr = np.array([t for _, t in body], dtype=float)
    except ValueError:
        for lineno, toks in body:
            for t in toks:
                try:
                    float(t)
                except ValueError:
                    raise bad(lineno, f"{t!r} is not a number") from None
        raise
    ij, pv = arr[:, :2], arr[:, 2]
    okij = np.all((ij >= 0) & (ij == np.floor(ij)), axis=1) & (ij[:, 0] < m) & (ij[:, 1] < n)
    okp = np.isfinite(pv) & (pv >= 0) & (pv <= 1)
    if not np.all(okij):
        k = int(np.argmin(okij))
        raise bad(body[k][0], f"indices {' '.join(body[k][1][:2])} must be integers with "
                              f"0 <= i < {m}, 0 <= j < {n}")
    if not np.all(okp):
        k = int(np.argmin(okp))
        raise bad(body[k][0], f"kill probability {body[k][1][2]} must lie in [0, 1]")
    flat = ij[:, 0].astype(np.int64) * n + ij[:, 1].astype(np.int64)
    seen = np.zeros(m * n, dtype=np.int64)
    np.add.at(seen, flat, 1)
    if np.any(seen != 1):
        dup = np.nonzero(seen > 1)[0]
        if dup.size:
            k = int(np.nonzero(flat == dup[0])[0][1])
            raise bad(body[k][0], f"pair ({dup[0] // n}, {dup[0] % n}) given twice")
        miss = int(np.nonzero(seen == 0)[0][0])
        raise WTAFormatError(f"{path}: pair ({miss // n}, {miss % n}) has no probability line")
    p = np.empty(m * n)
    p[flat] = pv
    name = path.name.removesuffix(".gz").removesuffix(".txt")
    return WTAInstance(values=values, p=p.reshape(m, n), mu=np.full(m, mu), name=name)


def solution_dict(inst: WTAInstance, sol: Solution) -> dict:
    """The solution file content: instance, objective, lower_bound, solver, shots."""
    lb = sol.lower_bound
    return {"instance": inst.name, "objective": sol.objective,
            "lower_bound": lb if math.isfinite(lb) else None, "solver": sol.solver,
            "shots": sol.shots()}


def write_solution(path: str | Path, inst: WTAInstance, sol: Solution) -> None:
    """Write the solution JSON atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    text = json.dumps(solution_dict(inst, sol), indent=None, separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_solution(path: str | Path, inst: WTAInstance) -> tuple[dict, float]:
    """Load a solution JSON and re-evaluate its shots independently: ``(data, objective)``."""
    path = Path(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        shots = data["shots"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise WTAFormatError(f"{path}: not a WTA solution file: {e}") from e
    try:
        return data, evaluate_shots(inst, shots)
    except ValueError as e:
        raise WTAFormatError(f"{path}: {e}") from e
