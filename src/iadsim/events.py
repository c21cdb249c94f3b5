"""Columnar, append-only event log.

Phases return events as :class:`EventBatch` (a few arrays); the engine appends batches and
:meth:`EventLog.to_arrow` concatenates them once at the end. Columns (``-1`` / NaN where a
column does not apply):

========  =======  ============================================================
column    type     meaning
========  =======  ============================================================
t         float64  s since scenario start
kind      string   one of :data:`KINDS`
threat    int64    truth index of the threat (metrics only; -1 unknown/none)
track     int64    track id (the defense's name for a target)
unit      int64    fire unit index
weapon    int64    interceptor type index (``Params.weapons.name``)
asset     int64    defended asset index
value     float64  kind-specific: Pk drawn against, rounds reloaded, ...
e, n, u   float64  position [m] in the local frame (aim point, kill point, impact)
========  =======  ============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

KINDS = (
    "threat_launch",  # threat enters the world
    "track_confirmed",  # a track passes M-of-N
    "track_deleted",  # a confirmed track is dropped
    "launch",  # one interceptor round leaves its launcher (value: planned fly-out s)
    "kill",  # a round destroys a threat (value: Pk drawn against)
    "miss",  # a round fails (value: Pk; threat -1 when no threat was in the seeker basket)
    "leak",  # a threat reaches its impact / weapon-release point
    "asset_hit",  # a leaker's impact falls inside a defended asset's radius
    "reload_start",  # value: rounds
    "reload_done",  # value: rounds
)
KIND_INDEX = {k: i for i, k in enumerate(KINDS)}

COLUMNS = ("t", "kind", "threat", "track", "unit", "weapon", "asset", "value", "e", "n", "u")
_INT_COLUMNS = ("threat", "track", "unit", "weapon", "asset")


@dataclass(frozen=True, slots=True)
class EventBatch:
    """Events of one kind from one phase call; every array has the same length."""

    kind: str
    t: np.ndarray
    threat: np.ndarray | None = None
    track: np.ndarray | None = None
    unit: np.ndarray | None = None
    weapon: np.ndarray | None = None
    asset: np.ndarray | None = None
    value: np.ndarray | None = None
    pos: np.ndarray | None = None  # [n, 3]

    def __len__(self) -> int:
        return int(np.shape(self.t)[0])


def batch(kind: str, t: float | np.ndarray, n: int, **cols: np.ndarray) -> EventBatch:
    """Make a batch of ``n`` events of ``kind``; scalar ``t`` is broadcast."""
    if kind not in KIND_INDEX:
        raise ValueError(f"unknown event kind {kind!r}; valid: {', '.join(KINDS)}")
    return EventBatch(kind=kind, t=np.broadcast_to(np.asarray(t, dtype=float), (n,)), **cols)


@dataclass
class EventLog:
    """Append-only log; the imperative shell owns it, phases only return batches."""

    _batches: list[EventBatch] = field(default_factory=list)

    def extend(self, batches: list[EventBatch]) -> None:
        self._batches.extend(b for b in batches if len(b))

    def __len__(self) -> int:
        return sum(len(b) for b in self._batches)

    def columns(self) -> dict[str, np.ndarray]:
        """Concatenated columns in time order (stable: ties keep their append order)."""
        n = len(self)
        out: dict[str, np.ndarray] = {
            "t": np.empty(n),
            "kind": np.empty(n, dtype=np.int64),
            **{c: np.full(n, -1, dtype=np.int64) for c in _INT_COLUMNS},
            "value": np.full(n, np.nan),
            "e": np.full(n, np.nan),
            "n": np.full(n, np.nan),
            "u": np.full(n, np.nan),
        }
        i = 0
        for b in self._batches:
            j = i + len(b)
            out["t"][i:j] = b.t
            out["kind"][i:j] = KIND_INDEX[b.kind]
            for c in _INT_COLUMNS:
                col = getattr(b, c)
                if col is not None:
                    out[c][i:j] = col
            if b.value is not None:
                out["value"][i:j] = b.value
            if b.pos is not None:
                out["e"][i:j], out["n"][i:j], out["u"][i:j] = b.pos.T
            i = j
        order = np.argsort(out["t"], kind="stable")
        return {k: v[order] for k, v in out.items()}

    def to_arrow(self) -> pa.Table:
        cols = self.columns()
        kinds = pa.DictionaryArray.from_arrays(
            pa.array(cols.pop("kind"), pa.int32()), pa.array(KINDS, pa.string())
        )
        arrays = {"t": cols.pop("t"), "kind": kinds, **cols}
        return pa.table({c: arrays[c] for c in COLUMNS})
