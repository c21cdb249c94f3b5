"""Parameter sweeps: ``--sweep PATH=SPEC`` options into a list of design points.

A *path* names one scenario field the way the scenario file nests it:

* dotted names: ``doctrine.salvo_size``, ``tracker.confirm_m``, ``duration_s``;
* list items by index: ``raids[0].count``, ``fire_units[1].magazine.9m338k``;
* keys that contain dots (catalog overrides): escape the dot, ``overrides.48n6\\.pk_aircraft``,
  or quote the key in brackets, ``overrides['48n6.pk_aircraft']`` (``"..."`` works too).

A path is checked against the scenario's schema (not only the file): a field absent from the
file but valid (``doctrine.salvo_size`` when the file has no ``doctrine``) is created; a name
that is not a field raises :class:`SweepError` naming the valid fields at that level, with a
did-you-mean. Mapping fields (``overrides``, ``magazine``, ``reserve``) accept any key; the
scenario validation then checks it against the catalog. ``seed`` cannot be swept (the campaign
seed is the run seed; see :mod:`iadsim.distributed`).

A *spec* is a range ``a:b:step`` (``b`` included when it lands on the grid; integers when
``a``, ``b`` and ``step`` are all integers) or a list ``v1,v2,...`` of numbers, ``true/false``
or words (``doctrine.priority=value,time``).

Two designs (``--design``):

* ``grid`` (default): the cross product of the sweeps, in a deterministic order: the first
  sweep varies slowest, the last fastest (``itertools.product``).
* ``lhs``: ``--samples N`` points of a Latin hypercube (M. D. McKay, R. J. Beckman and W. J.
  Conover, "A comparison of three methods for selecting values of input variables in the
  analysis of output from a computer code", Technometrics 21 (1979) 239-245) over the swept
  parameters, from ``scipy.stats.qmc.LatinHypercube`` (scrambled, strength 1) seeded by
  ``SeedSequence(campaign seed, spawn_key=(CAMPAIGN_TAG, 1))``. Each parameter's range is cut
  into ``N`` equal strata and every stratum is sampled exactly once. A spec ``a:b`` (no step)
  is the interval ``[a, b]``: continuous for a float field (``a + u (b - a)``), the integers
  ``a..b`` with equal weight for an integer field (``a + floor(u (b - a + 1))``). A list is a
  set of categorical levels (level ``floor(u k)`` of ``k``), numbers included. The points are a
  pure function of (seed, sweeps, N); the store keeps them and refuses to resume a campaign
  whose recomputed points differ.

A design point is a ``dict`` path -> value; :func:`apply_point` applies one to the scenario's
mapping and re-validates it with :func:`iadsim.scenario.parse_scenario`, so a bad value raises
the usual ``ScenarioError``.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from iadsim.scenario import Scenario, parse_scenario

__all__ = ["CAMPAIGN_TAG", "DESIGNS", "Sweep", "SweepError", "apply_point", "design",
           "design_spec", "lhs_points", "parse_path", "parse_spec", "parse_sweep",
           "point_label"]

MAX_POINTS = 100_000  # a design larger than this is almost surely a typo
DESIGNS = ("grid", "lhs")
#: First word of the ``SeedSequence`` spawn keys of campaign-level streams (the Latin
#: hypercube, the uncertain-parameter draws). Run ``r``'s streams use ``(r,)`` and ``(r, k)``
#: (``engine.Streams``) with ``r`` < 10^7, so these keys never meet a run's.
CAMPAIGN_TAG = 0xFFFF_FFFF


class SweepError(ValueError):
    """A ``--sweep`` option that cannot be used."""


@dataclass(frozen=True)
class Sweep:
    """One swept field: its path as written, parsed parts, and its values in order (grid
    values or categorical levels), or, in a Latin hypercube, the ``interval`` ``(a, b)`` it
    samples (``values`` then empty; ``integer`` for an integer field)."""

    path: str
    parts: tuple[str | int, ...]
    values: tuple[Any, ...]
    interval: tuple[float, float] | None = None
    integer: bool = False

    def spec(self) -> dict[str, Any]:
        """JSON form, kept in the store: ``{"path", "values"}`` or ``{"path", "low",
        "high", "integer"}``."""
        if self.interval is None:
            return {"path": self.path, "values": list(self.values)}
        return {"path": self.path, "low": self.interval[0], "high": self.interval[1],
                "integer": self.integer}


_TOKEN = re.compile(r"""\[(-?\d+)\]|\[(['"])(.*?)\2\]|((?:\\.|[^.\[\]\\])+)|(\.)""")


def parse_path(path: str) -> tuple[str | int, ...]:
    """``raids[0].count`` -> ``("raids", 0, "count")``; see the module doc for quoting."""
    parts: list[str | int] = []
    pos, expect_name = 0, True
    if not path:
        raise SweepError("empty sweep path")
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None:
            raise SweepError(f"sweep path {path!r}: cannot read from {path[pos:]!r}")
        index, _, quoted, name, dot = m.groups()
        if dot is not None:
            if expect_name:
                raise SweepError(f"sweep path {path!r}: empty field name at position {pos}")
            expect_name = True
        elif name is not None:
            if not expect_name:
                raise SweepError(f"sweep path {path!r}: missing '.' before {name!r}")
            parts.append(re.sub(r"\\(.)", r"\1", name))
            expect_name = False
        else:
            if expect_name and parts:
                raise SweepError(f"sweep path {path!r}: '.' followed by '['")
            if not parts:
                raise SweepError(f"sweep path {path!r}: must start with a field name")
            parts.append(int(index) if index is not None else quoted)
            expect_name = False
        pos = m.end()
    if expect_name:
        raise SweepError(f"sweep path {path!r}: ends with '.'")
    return tuple(parts)


def _scalar(text: str) -> Any:
    t = text.strip()
    if not t:
        raise SweepError("empty value in a sweep list")
    if re.fullmatch(r"[+-]?\d+", t):
        return int(t)
    try:
        v = float(t)
    except ValueError:
        low = t.lower()
        return {"true": True, "false": False}.get(low, t)
    if not math.isfinite(v):
        raise SweepError(f"sweep value {t!r} is not finite")
    return v


def parse_spec(spec: str) -> tuple[Any, ...]:
    """``"10:40:10"`` -> ``(10, 20, 30, 40)``; ``"1,2"`` -> ``(1, 2)``; ``"0.5"`` -> ``(0.5,)``."""
    if ":" in spec:
        bits = spec.split(":")
        if len(bits) != 3:
            raise SweepError(f"range {spec!r}: expected start:stop:step (an interval a:b is "
                             f"for --design lhs)")
        a, b, step = (_scalar(x) for x in bits)
        if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b, step)):
            raise SweepError(f"range {spec!r}: start, stop and step must be numbers")
        if step == 0 or (b - a) * step < 0:
            raise SweepError(f"range {spec!r}: step {step} never reaches {b} from {a}")
        n = math.floor((b - a) / step + 1e-9) + 1
        if n > MAX_POINTS:
            raise SweepError(f"range {spec!r} has {n} values; the limit is {MAX_POINTS}")
        if all(isinstance(x, int) for x in (a, b, step)):
            return tuple(a + i * step for i in range(n))
        return tuple(float(f"{a + i * step:.12g}") for i in range(n))
    values = tuple(_scalar(x) for x in spec.split(","))
    if len(set(map(repr, values))) != len(values):
        raise SweepError(f"list {spec!r} repeats a value")
    return values


def _unwrap(ann: Any) -> Any:
    """``X | None`` -> ``X``."""
    if isinstance(ann, types.UnionType) or typing.get_origin(ann) is typing.Union:
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        return args[0] if len(args) == 1 else ann
    return ann


def _resolve(parts: tuple[str | int, ...], data: dict, path: str) -> Any:
    """Check ``parts`` against the schema and the scenario's lists (SweepError if bad); return
    the field's type."""
    ann: Any = Scenario
    node: Any = data
    where = ""
    for part in parts:
        ann = _unwrap(ann)
        origin = typing.get_origin(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            valid = sorted(ann.model_fields)
            if not isinstance(part, str) or part not in ann.model_fields:
                close = difflib.get_close_matches(str(part), valid, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                at = where or "the scenario"
                raise SweepError(f"sweep path {path!r}: {at} has no field {part!r}{hint}; "
                                 f"valid: {', '.join(valid)}")
            ann = ann.model_fields[part].annotation
            node = node.get(part) if isinstance(node, dict) else None
            where += f".{part}" if where else part
        elif origin is list:
            if not isinstance(part, int):
                raise SweepError(f"sweep path {path!r}: {where} is a list; index it as "
                                 f"{where}[0]")
            size = len(node) if isinstance(node, list) else 0
            if not 0 <= part < size:
                raise SweepError(f"sweep path {path!r}: {where}[{part}] is out of range "
                                 f"(the scenario has {size})")
            ann = typing.get_args(ann)[0]
            node = node[part]
            where += f"[{part}]"
        elif origin is dict:
            if not isinstance(part, str):
                raise SweepError(f"sweep path {path!r}: {where} is a mapping; use a key")
            ann = typing.get_args(ann)[1]
            node = node.get(part) if isinstance(node, dict) else None
            where += f".{part}"
        else:
            raise SweepError(f"sweep path {path!r}: {where} is a value, it has no field "
                             f"{part!r}")
    ann = _unwrap(ann)
    if (isinstance(ann, type) and issubclass(ann, BaseModel)) or typing.get_origin(ann) in (
            list, dict):
        raise SweepError(f"sweep path {path!r}: {where} is not a single value; sweep one of "
                         f"its fields")
    return ann


def _interval(path: str, spec: str, ann: Any) -> tuple[tuple[float, float], bool]:
    """``a:b`` of a Latin hypercube -> ``((a, b), integer)`` checked against the field type."""
    bits = spec.split(":")
    if len(bits) != 2:
        raise SweepError(f"--sweep {path}={spec}: --design lhs samples an interval a:b (no "
                         f"step), or a list of levels v1,v2,...")
    a, b = (_scalar(x) for x in bits)
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b)):
        raise SweepError(f"--sweep {path}={spec}: the bounds of an interval must be numbers")
    if ann not in (int, float):
        raise SweepError(f"--sweep {path}={spec}: {path} is not a number "
                         f"({getattr(ann, '__name__', ann)}); give a list of levels")
    if ann is int and not (isinstance(a, int) and isinstance(b, int)):
        raise SweepError(f"--sweep {path}={spec}: {path} is an integer; give integer bounds")
    if not a < b:
        raise SweepError(f"--sweep {path}={spec}: the interval needs a < b (a single value "
                         f"needs no sweep)")
    return (a, b), ann is int


def parse_sweep(option: str, data: dict, lhs: bool = False) -> Sweep:
    """One ``PATH=SPEC`` option, checked against the scenario mapping ``data`` (``lhs``: a
    range is an interval ``a:b``)."""
    path, eq, spec = option.partition("=")
    path, spec = path.strip(), spec.strip()
    if not eq or not path or not spec:
        raise SweepError(f"--sweep {option!r}: expected PATH=SPEC, e.g. raids[0].count=10:400:10")
    parts = parse_path(path)
    if parts == ("seed",):
        raise SweepError("seed cannot be swept: the campaign seed (--seed) seeds every run")
    ann = _resolve(parts, data, path)
    if lhs and ":" in spec:
        interval, integer = _interval(path, spec, ann)
        return Sweep(path=path, parts=parts, values=(), interval=interval, integer=integer)
    return Sweep(path=path, parts=parts, values=parse_spec(spec))


def lhs_points(sweeps: list[Sweep], samples: int, seed: int) -> list[dict[str, Any]]:
    """``samples`` Latin-hypercube points over ``sweeps`` (see the module doc)."""
    from scipy.stats import qmc

    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(CAMPAIGN_TAG, 1)))
    u = qmc.LatinHypercube(d=len(sweeps), rng=rng).random(samples)
    points = []
    for row in u:
        point: dict[str, Any] = {}
        for s, x in zip(sweeps, row, strict=True):
            if s.interval is None:
                point[s.path] = s.values[min(int(x * len(s.values)), len(s.values) - 1)]
            elif s.integer:
                a, b = s.interval
                point[s.path] = int(min(a + math.floor(x * (b - a + 1)), b))
            else:
                a, b = s.interval
                point[s.path] = float(a + x * (b - a))
        points.append(point)
    return points


def design(options: list[str], data: dict, kind: str = "grid", samples: int | None = None,
           seed: int = 0) -> tuple[list[Sweep], list[dict[str, Any]]]:
    """The sweeps and their design points: the cross product (``grid``, first varies slowest;
    no sweep: one empty point) or ``samples`` Latin-hypercube points (``lhs``, seeded by
    ``seed``)."""
    if kind not in DESIGNS:
        raise SweepError(f"--design {kind!r}: valid designs: {', '.join(DESIGNS)}")
    if kind == "grid" and samples is not None:
        raise SweepError("--samples is for --design lhs (a grid has one point per combination)")
    if kind == "lhs" and (samples is None or samples < 1):
        raise SweepError("--design lhs needs --samples N (N >= 1 design points)")
    if kind == "lhs" and not options:
        raise SweepError("--design lhs needs at least one --sweep to sample")
    sweeps = [parse_sweep(o, data, lhs=kind == "lhs") for o in options]
    seen: set[tuple] = set()
    for s in sweeps:
        if s.parts in seen:
            raise SweepError(f"--sweep {s.path}: the same field is swept twice")
        seen.add(s.parts)
    if kind == "lhs" and samples is not None:
        if samples > MAX_POINTS:
            raise SweepError(f"--samples {samples}: the limit is {MAX_POINTS}")
        return sweeps, lhs_points(sweeps, samples, seed)
    n = math.prod(len(s.values) for s in sweeps)
    if n > MAX_POINTS:
        raise SweepError(f"the sweeps make {n} design points; the limit is {MAX_POINTS}")
    points = [dict(zip([s.path for s in sweeps], combo, strict=True))
              for combo in itertools.product(*(s.values for s in sweeps))]
    return sweeps, points


def design_spec(sweeps: list[Sweep], kind: str = "grid", samples: int | None = None
                ) -> dict[str, Any]:
    """The design as kept in the store's metadata: ``{"kind", "sweeps", "samples"?}``."""
    out: dict[str, Any] = {"kind": kind, "sweeps": [s.spec() for s in sweeps]}
    if kind == "lhs":
        out["samples"] = samples
    return out


def _set(data: dict, parts: tuple[str | int, ...], value: Any) -> None:
    node: Any = data
    for part, nxt in itertools.pairwise(parts):
        if isinstance(part, int):
            node = node[part]
        else:
            if not isinstance(node.get(part), dict | list):
                node[part] = [] if isinstance(nxt, int) else {}
            node = node[part]
    node[parts[-1]] = value


def apply_point(data: dict, point: dict[str, Any], source: str = "<scenario>",
                catalog: Any = None) -> Scenario:
    """The scenario ``data`` with ``point``'s values set, validated (``ScenarioError``)."""
    out = copy.deepcopy(data)
    for path, value in point.items():
        _set(out, parse_path(path), value)
    label = f"{source} [{point_label(point)}]" if point else source
    return parse_scenario(out, label, catalog)


def point_label(point: dict[str, Any]) -> str:
    """``raids[0].count=10, doctrine.salvo_size=2``."""
    return ", ".join(f"{k}={v}" for k, v in point.items())
