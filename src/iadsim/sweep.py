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

Several sweeps give their cross product, in a deterministic order: the first sweep varies
slowest, the last fastest (``itertools.product``). A design point is a ``dict`` path -> value;
:func:`apply_point` applies one to the scenario's mapping and re-validates it with
:func:`iadsim.scenario.parse_scenario`, so a bad value raises the usual ``ScenarioError``.
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

from pydantic import BaseModel

from iadsim.scenario import Scenario, parse_scenario

__all__ = ["Sweep", "SweepError", "apply_point", "design", "parse_path", "parse_spec",
           "parse_sweep", "point_label"]

MAX_POINTS = 100_000  # a design larger than this is almost surely a typo


class SweepError(ValueError):
    """A ``--sweep`` option that cannot be used."""


@dataclass(frozen=True)
class Sweep:
    """One swept field: its path as written, parsed parts, and its values in order."""

    path: str
    parts: tuple[str | int, ...]
    values: tuple[Any, ...]


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
            raise SweepError(f"range {spec!r}: expected start:stop:step")
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


def _resolve(parts: tuple[str | int, ...], data: dict, path: str) -> None:
    """Check ``parts`` against the schema and the scenario's lists; raise SweepError if bad."""
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


def parse_sweep(option: str, data: dict) -> Sweep:
    """One ``PATH=SPEC`` option, checked against the scenario mapping ``data``."""
    path, eq, spec = option.partition("=")
    path, spec = path.strip(), spec.strip()
    if not eq or not path or not spec:
        raise SweepError(f"--sweep {option!r}: expected PATH=SPEC, e.g. raids[0].count=10:400:10")
    parts = parse_path(path)
    if parts == ("seed",):
        raise SweepError("seed cannot be swept: the campaign seed (--seed) seeds every run")
    _resolve(parts, data, path)
    return Sweep(path=path, parts=parts, values=parse_spec(spec))


def design(options: list[str], data: dict) -> tuple[list[Sweep], list[dict[str, Any]]]:
    """The sweeps and their cross product (first varies slowest); no sweep: one empty point."""
    sweeps = [parse_sweep(o, data) for o in options]
    seen: set[tuple] = set()
    for s in sweeps:
        if s.parts in seen:
            raise SweepError(f"--sweep {s.path}: the same field is swept twice")
        seen.add(s.parts)
    n = math.prod(len(s.values) for s in sweeps)
    if n > MAX_POINTS:
        raise SweepError(f"the sweeps make {n} design points; the limit is {MAX_POINTS}")
    points = [dict(zip([s.path for s in sweeps], combo, strict=True))
              for combo in itertools.product(*(s.values for s in sweeps))]
    return sweeps, points


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
