"""Parameter uncertainty: catalog figures drawn from their low/high, run by run.

``iadsim campaign --sample-uncertain`` (all) or ``--uncertain 48n6.pk_uav`` (repeatable: only
these) makes every Monte Carlo run draw the chosen catalog parameters afresh. A drawn value is
a scenario ``overrides`` entry (catalog unit), so it goes through the same path as a value the
user writes (``compile._Reader``), and it is stored with the run's metrics as
``uncertain.<key>.<param>``, ready to regress leak rate on.

**Which parameters** (``select``). By default every parameter the scenario actually reads (found
by compiling each design point with a catalog that records what is read; a weapon's
``pk_<class>`` only for the threat classes of the scenario's raids) whose catalog entry has
``low < high``, except:

* those the scenario fixes in its ``overrides`` or that a ``--sweep`` sets: the user's value
  wins;
* the magazine mix ``mix_<interceptor>`` of a fire unit: the fractions of one unit must sum to 1,
  which independent draws would break; sweep them instead.

A parameter named with ``--uncertain`` must exist, be read by the scenario, have ``low < high``
and not be fixed or swept; otherwise :class:`UncertainError` says which and lists the valid
names.

**Distribution: a labelled assumption.** The catalog gives a range of published figures or of
plausible values, not a distribution. We draw from the *triangular* distribution on
``[low, high]`` with its mode at the catalog value (clamped into the range): the nominal
figure stays the most likely, the bounds are reached with density zero, and no value outside
the catalog's range is ever used. Count parameters
(unit ``count``) are rounded to the nearest integer. Another choice (uniform, PERT) changes
the spread of results, not their centre: treat the sampled spread as indicative.

**Randomness and common random numbers.** Parameter ``q`` of run ``r`` is
``F_q^{-1}(u)``, ``u`` the first uniform of ``SeedSequence(seed, spawn_key=(CAMPAIGN_TAG, 2, r,
h_1(q), h_2(q)))`` (``h``: two 32-bit words of sha256 of the name). It depends on the campaign
seed, the run index and the name only, not on the design point: run ``r`` of every design point
sees the same parameter values (common random numbers: a difference between two design points
is not blurred by different parameter draws), whatever else is sampled and whichever worker
runs it. The stream is apart from the run's own streams (``engine.Streams``, spawn keys
``(r,)`` and ``(r, k)``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from iadsim.catalog import THREAT_CLASSES, Catalog, load_catalog
from iadsim.compile import compile_scenario
from iadsim.scenario import Scenario
from iadsim.sweep import CAMPAIGN_TAG

__all__ = ["DISTRIBUTION", "PREFIX", "Uncertain", "UncertainError", "draw", "read_params",
           "select", "with_draws"]

DISTRIBUTION = "triangular(low, value, high)"
#: Prefix of the drawn values in a run's metric row: ``uncertain.48n6.pk_uav``.
PREFIX = "uncertain."


class UncertainError(ValueError):
    """A ``--uncertain`` parameter that cannot be sampled."""


@dataclass(frozen=True, slots=True)
class Uncertain:
    """One sampled catalog parameter, in its catalog unit: ``name`` is ``<key>.<param>``."""

    name: str
    value: float
    low: float
    high: float
    unit: str

    @property
    def integer(self) -> bool:
        return self.unit == "count"

    def quantile(self, u: float) -> float:
        """Inverse CDF of the triangular distribution on [low, high], mode at the value."""
        a, b = self.low, self.high
        c = min(max(self.value, a), b)
        if u < (c - a) / (b - a):
            x = a + math.sqrt(u * (b - a) * (c - a))
        else:
            x = b - math.sqrt((1.0 - u) * (b - a) * (b - c))
        return float(min(max(round(x), a), b)) if self.integer else x

    def spec(self) -> dict[str, Any]:
        """JSON form, kept in the store's design (so a changed catalog refuses to resume)."""
        return {"name": self.name, "value": self.value, "low": self.low, "high": self.high,
                "unit": self.unit}


class _Recording:
    """A catalog that notes every ``(key, param)`` read through ``get(key).p(name)``."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.read: set[tuple[str, str]] = set()

    def get(self, key: str, kind: str | None = None) -> _EntryView:
        return _EntryView(self, self.catalog.get(key, kind))


class _EntryView:
    def __init__(self, rec: _Recording, entry: Any):
        self._rec, self._entry = rec, entry
        self.key, self.params, self.refs = entry.key, entry.params, entry.refs

    def p(self, name: str) -> Any:
        self._rec.read.add((self.key, name))
        return self._entry.p(name)

    def si(self, name: str) -> float:
        return self.p(name).si


def read_params(sc: Scenario, catalog: Catalog | None = None) -> set[str]:
    """``<key>.<param>`` of every catalog parameter compiling ``sc`` reads, less the
    per-class figures (``pk_<class>``, ``max_range_km_<class>``) of classes no raid has."""
    cat = catalog or load_catalog()
    rec = _Recording(cat)
    compile_scenario(sc, rec)  # type: ignore[arg-type]  # duck-typed catalog
    classes = {cat.get(r.threat).refs["class"] for r in sc.raids}
    unused = {f"{pre}{c}" for c in THREAT_CLASSES if c not in classes
              for pre in ("pk_", "max_range_km_")}
    return {f"{k}.{p}" for k, p in rec.read if p not in unused}


def _spread(catalog: Catalog, name: str) -> Uncertain | None:
    key, _, param = name.partition(".")
    p = catalog.get(key).params[param]
    if p.low is None or p.high is None or p.value is None or not p.low < p.high:
        return None
    return Uncertain(name=name, value=float(p.value), low=float(p.low), high=float(p.high),
                     unit=p.unit)


def select(scenarios: list[Scenario], names: list[str] | None = None,
           catalog: Catalog | None = None) -> list[Uncertain]:
    """The parameters to sample for the design points ``scenarios`` (see the module doc):
    ``names`` None for all, sorted by name."""
    cat = catalog or load_catalog()
    read = set().union(*(read_params(sc, cat) for sc in scenarios))
    fixed = set().union(*(sc.overrides for sc in scenarios))
    default = sorted(n for n in read - fixed
                     if not n.partition(".")[2].startswith("mix_") and _spread(cat, n))
    if names is None:
        return [u for n in default if (u := _spread(cat, n)) is not None]
    out = []
    valid = ", ".join(default) or "none"
    for name in dict.fromkeys(names):
        key, _, param = name.partition(".")
        if key not in cat.keys() or param not in cat.get(key).params:
            raise UncertainError(f"--uncertain {name}: no such catalog parameter (write "
                                 f"<catalog key>.<param>); valid: {valid}")
        if name not in read:
            raise UncertainError(f"--uncertain {name}: this scenario never uses it; valid: "
                                 f"{valid}")
        if name in fixed:
            raise UncertainError(f"--uncertain {name}: fixed by the scenario's overrides or a "
                                 f"--sweep; valid: {valid}")
        u = _spread(cat, name)
        if u is None:
            p = cat.get(key).params[param]
            raise UncertainError(f"--uncertain {name}: the catalog gives no spread (low "
                                 f"{p.low}, high {p.high}); valid: {valid}")
        out.append(u)
    return sorted(out, key=lambda u: u.name)


def _words(name: str) -> tuple[int, int]:
    h = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(h[:4], "little"), int.from_bytes(h[4:8], "little")


def draw(params: list[Uncertain], seed: int, run: int) -> dict[str, float]:
    """Run ``run``'s values of ``params`` (name -> value, catalog unit)."""
    out = {}
    for q in params:
        ss = np.random.SeedSequence(seed, spawn_key=(CAMPAIGN_TAG, 2, run, *_words(q.name)))
        out[q.name] = q.quantile(float(np.random.default_rng(ss).random()))
    return out


def with_draws(sc: Scenario, draws: dict[str, float]) -> Scenario:
    """``sc`` with ``draws`` added to its overrides (the values are in the catalog's range,
    which the catalog validation already checked)."""
    return sc.model_copy(update={"overrides": {**sc.overrides, **draws}})
