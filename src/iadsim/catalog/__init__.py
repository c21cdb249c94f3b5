"""Parameter catalog: public, nominal, cited figures for fire units, interceptors, sensors,
threats and links.

The data live in ``data/*.yaml`` (one mapping ``key -> entry`` per kind). Every numeric
parameter carries its unit, a low/high spread, the ids of its sources (``data/sources.yaml``), a
confidence mark and a note. Figures with no public source are *labelled assumptions*
(``confidence: assumption``, ``source: [ASSUMPTION]``): override them in the scenario and sweep
them.

>>> cat = load_catalog()
>>> cat.get("s-400").p("launchers").value
8
>>> cat.get("40n6").si("max_range_km")
400000.0
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, PlainValidator, StrictStr, ValidationError

__all__ = [
    "ALLOWED_UNITS",
    "CONFIDENCES",
    "FILES",
    "KINDS",
    "REQUIRED_PARAMS",
    "THREAT_CLASSES",
    "Catalog",
    "CatalogError",
    "Entry",
    "Param",
    "load_catalog",
]

KINDS = ("fire_unit", "interceptor", "sensor", "threat", "link")
THREAT_CLASSES = (
    "aircraft", "helicopter", "cruise_missile", "hypersonic", "ballistic",
    "glide_bomb", "uav", "loitering", "multirotor", "fpv",
)  # fmt: skip
FILES = {
    "fire_unit": "fire_units.yaml",
    "interceptor": "interceptors.yaml",
    "sensor": "sensors.yaml",
    "threat": "threats.yaml",
    "link": "links.yaml",
}
SOURCES_FILE = "sources.yaml"
CONFIDENCES = ("high", "medium", "low", "assumption", "unknown")
#: unit -> (factor to SI, name suffix); a ``None`` suffix marks a dimensionless unit.
_UNITS: dict[str, tuple[float, str | None]] = {
    "km": (1000.0, "km"),
    "m": (1.0, "m"),
    "m/s": (1.0, "mps"),
    "km/h": (1.0 / 3.6, "kmh"),
    "s": (1.0, "s"),
    "min": (60.0, "min"),
    "kg": (1.0, "kg"),
    "usd": (1.0, "usd"),
    "m2": (1.0, "m2"),
    "deg": (math.pi / 180.0, "deg"),
    "mrad": (1e-3, "mrad"),
    "count": (1.0, None),
    "fraction": (1.0, None),
    "probability": (1.0, None),
    "per_scan": (1.0, None),
}
ALLOWED_UNITS = tuple(_UNITS)
_SUFFIX_UNIT = {sfx: u for u, (_, sfx) in _UNITS.items() if sfx is not None}

_THREAT_ALL = ("speed_mps", "cruise_altitude_m", "dive_angle_deg", "rcs_m2", "cost_usd",
               "range_km", "release_range_km")  # fmt: skip
#: Param names the simulator reads, per kind (value must not be null). Also required, not listed:
#: fire_unit ``mix_<interceptor>`` per interceptor, interceptor ``pk_<class>`` per engaged class,
#: ballistic threats ``reentry_speed_mps``, ``reentry_altitude_km``, ``reentry_angle_deg``.
REQUIRED_PARAMS: dict[str, tuple[str, ...]] = {
    "fire_unit": ("channels", "tracks_max", "launchers", "rails_per_launcher", "reserve_rounds",
                  "reload_time_s", "reaction_time_s"),
    "interceptor": ("min_range_km", "max_range_km", "min_altitude_m", "max_altitude_m",
                    "max_target_speed_mps", "speed_mps", "cost_usd"),
    "sensor": ("detection_range_km", "ref_rcs_m2", "instrumented_range_km", "scan_period_s", "pfa",
               "clutter_per_scan", "sigma_range_m", "sigma_azimuth_mrad", "sigma_elevation_mrad",
               "min_elevation_deg", "max_elevation_deg", "mast_height_m", "tracks_max"),
    "threat": _THREAT_ALL,
    "link": ("latency_s", "loss_prob"),
}  # fmt: skip
_BALLISTIC = ("reentry_speed_mps", "reentry_altitude_km", "reentry_angle_deg")
_SENSOR_ROLES = ("acquisition", "fire_control", "all_altitude")
_PROFILES = ("cruise", "ballistic")


class CatalogError(ValueError):
    """Invalid or missing catalog data; the message names the file and the field path."""


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    return f" did you mean {close[0]!r}?" if close else ""


@dataclass(frozen=True, slots=True)
class Param:
    """One catalogued figure: value in ``unit``, spread, sources, confidence and note."""

    value: float | None
    unit: str
    low: float | None
    high: float | None
    source: tuple[str, ...]
    confidence: str
    note: str

    @property
    def is_assumption(self) -> bool:
        """True for a labelled modelling assumption (no public figure)."""
        return self.confidence == "assumption"

    def _to_si(self, x: float | None) -> float | None:
        return None if x is None else float(x) * _UNITS[self.unit][0]

    @property
    def si(self) -> float:
        """Value in SI (km->m, km/h->m/s, min->s, mrad and deg->rad; others unchanged)."""
        if self.value is None:
            raise CatalogError(f"value is null (unknown); no SI value ({self.note})")
        return float(self.value) * _UNITS[self.unit][0]

    @property
    def si_low(self) -> float | None:
        """Low bound in SI, or None."""
        return self._to_si(self.low)

    @property
    def si_high(self) -> float | None:
        """High bound in SI, or None."""
        return self._to_si(self.high)


@dataclass(frozen=True, slots=True)
class Entry:
    """One catalog entry (a system, a munition, a sensor, a threat type or a link type)."""

    key: str
    kind: str
    name: str
    description: str
    refs: Mapping[str, Any]
    params: Mapping[str, Param]

    def p(self, name: str) -> Param:
        """The param ``name``; raises CatalogError (with a suggestion) if there is none."""
        try:
            return self.params[name]
        except KeyError:
            valid = sorted(self.params)
            raise CatalogError(
                f"{self.kind} {self.key!r} has no param {name!r};{_suggest(name, valid)} "
                f"valid: {', '.join(valid)}"
            ) from None

    def si(self, name: str) -> float:
        """Shorthand for ``p(name).si``."""
        return self.p(name).si


@dataclass(frozen=True)
class Catalog:
    """All entries (keys unique across kinds) and the source list."""

    entries: Mapping[str, Entry]
    sources: Mapping[str, str]

    def get(self, key: str, kind: str | None = None) -> Entry:
        """Entry ``key`` (checked to be of ``kind`` if given); CatalogError lists valid keys."""
        if kind is not None and kind not in KINDS:
            raise CatalogError(f"unknown kind {kind!r}; valid kinds: {', '.join(KINDS)}")
        entry = self.entries.get(key)
        if entry is not None and (kind is None or entry.kind == kind):
            return entry
        valid = self.keys(kind)
        what = kind or "catalog entry"
        if entry is not None:
            raise CatalogError(
                f"{key!r} is of kind {entry.kind}, not {kind};"
                f" valid {kind} keys: {', '.join(valid)}"
            )
        hint = _suggest(key, valid)
        raise CatalogError(f"unknown {what} {key!r};{hint} valid: {', '.join(valid)}")

    def of_kind(self, kind: str) -> list[Entry]:
        """Entries of ``kind`` in file order."""
        if kind not in KINDS:
            raise CatalogError(f"unknown kind {kind!r}; valid kinds: {', '.join(KINDS)}")
        return [e for e in self.entries.values() if e.kind == kind]

    def keys(self, kind: str | None = None) -> list[str]:
        """Entry keys (of ``kind`` if given) in file order."""
        if kind is None:
            return list(self.entries)
        return [e.key for e in self.of_kind(kind)]


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def _number(v: Any) -> int | float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ValueError(f"must be a finite number or null, got {v!r}")
    return v


_Number = Annotated[int | float, PlainValidator(_number)]


class _ParamModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    value: _Number | None
    unit: Literal[ALLOWED_UNITS]  # type: ignore[valid-type]
    low: _Number | None
    high: _Number | None
    source: list[StrictStr]
    confidence: Literal[CONFIDENCES]  # type: ignore[valid-type]
    note: StrictStr


class _EntryModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: StrictStr
    description: StrictStr
    refs: dict[StrictStr, Any] = {}
    params: dict[StrictStr, dict[str, Any]]


def _fmt_pydantic(err: ValidationError) -> list[tuple[str, str]]:
    return [(".".join(str(x) for x in e["loc"]), e["msg"]) for e in err.errors()]


def _strip_class(name: str) -> str:
    for c in THREAT_CLASSES:
        if name.endswith("_" + c) and not name.startswith(("pk_", "mix_")):
            return name[: -len(c) - 1]
    return name


def _check_param(name: str, p: _ParamModel, sources: Mapping[str, str]) -> list[str]:
    errs: list[str] = []
    token = _strip_class(name).rsplit("_", 1)[-1]
    sfx = _UNITS[p.unit][1]
    if sfx is not None and token != sfx:
        errs.append(f"unit {p.unit!r} needs a name ending in '_{sfx}'")
    if sfx is None and token in _SUFFIX_UNIT:
        want = _SUFFIX_UNIT[token]
        errs.append(f"name ends in '_{token}' but unit is {p.unit!r} (expected {want!r})")
    if p.value is None and (p.low is not None or p.high is not None):
        errs.append("low/high given but value is null")
    if p.value is not None:
        if p.low is not None and p.low > p.value:
            errs.append(f"low {p.low} > value {p.value}")
        if p.high is not None and p.high < p.value:
            errs.append(f"high {p.high} < value {p.value}")
    if p.low is not None and p.high is not None and p.low > p.high:
        errs.append(f"low {p.low} > high {p.high}")
    if p.unit in ("probability", "fraction"):
        for label, x in (("value", p.value), ("low", p.low), ("high", p.high)):
            if x is not None and not 0.0 <= x <= 1.0:
                errs.append(f"{label} {x} outside [0, 1] for unit {p.unit!r}")
    if p.unit == "count":
        for label, x in (("value", p.value), ("low", p.low), ("high", p.high)):
            if x is not None and x != int(x):
                errs.append(f"{label} {x} is not a whole number for unit 'count'")
    if not p.source:
        errs.append("source list is empty")
    for s in p.source:
        if s not in sources:
            errs.append(f"source id {s!r} not in {SOURCES_FILE};{_suggest(s, list(sources))}")
    if p.confidence == "assumption" and list(p.source) != ["ASSUMPTION"]:
        errs.append("confidence 'assumption' needs source [ASSUMPTION] only")
    if p.confidence != "assumption" and "ASSUMPTION" in p.source:
        errs.append("source ASSUMPTION needs confidence 'assumption'")
    return errs


def _check_refs(kind: str, refs: Mapping[str, Any], params: Mapping[str, Param],
                kinds: Mapping[str, str], failed: set[str]) -> list[tuple[str, str]]:  # fmt: skip
    """Kind-specific refs and cross-param checks; returns (field path, message) pairs.

    ``failed`` holds params that did not validate (already reported, so not reported missing).
    """
    errs: list[tuple[str, str]] = []
    allowed = {"fire_unit": {"interceptors", "radars", "chassis"}, "interceptor": {"engages"},
               "sensor": {"role"}, "threat": {"class", "profile"}, "link": set()}[kind]  # fmt: skip
    for extra in sorted(set(refs) - allowed):
        errs.append((f"refs.{extra}", f"unknown ref; allowed: {sorted(allowed) or 'none'}"))
    for need in sorted(allowed - set(refs)):
        errs.append((f"refs.{need}", "missing"))

    def key_list(field: str, want: str) -> list[str]:
        v = refs.get(field)
        if v is None:
            return []
        if not isinstance(v, list) or not v or not all(isinstance(x, str) for x in v):
            errs.append((f"refs.{field}", "must be a non-empty list of keys"))
            return []
        for x in v:
            if kinds.get(x) != want:
                got = f"is of kind {kinds[x]}" if x in kinds else "does not exist"
                valid = sorted(k for k, kd in kinds.items() if kd == want)
                errs.append((f"refs.{field}", f"{x!r} {got}; need a {want}.{_suggest(x, valid)}"))
        return v

    required = list(REQUIRED_PARAMS[kind])
    if kind == "fire_unit":
        ints = key_list("interceptors", "interceptor")
        key_list("radars", "sensor")
        if "chassis" in refs and not isinstance(refs["chassis"], str):
            errs.append(("refs.chassis", "must be a string"))
        required += [f"mix_{i}" for i in ints]
        mixes = {n: p for n, p in params.items() if n.startswith("mix_")}
        for n in sorted(mixes):
            if n[4:] not in ints:
                errs.append((f"params.{n}", f"no interceptor {n[4:]!r} in refs.interceptors"))
        if ints and all(f"mix_{i}" in mixes for i in ints):
            total = sum(mixes[f"mix_{i}"].value or 0.0 for i in ints)
            if abs(total - 1.0) > 1e-9:
                errs.append(("params.mix_*", f"mix fractions sum to {total:g}, not 1"))
    elif kind == "interceptor":
        eng = refs.get("engages")
        if not isinstance(eng, list) or not eng or not all(isinstance(c, str) for c in eng):
            errs.append(("refs.engages", "must be a non-empty list of threat classes"))
            eng = []
        for c in eng:
            if c not in THREAT_CLASSES:
                hint = _suggest(c, list(THREAT_CLASSES))
                msg = f"unknown class {c!r};{hint} valid: {', '.join(THREAT_CLASSES)}"
                errs.append(("refs.engages", msg))
        required += [f"pk_{c}" for c in eng if c in THREAT_CLASSES]
        for n in sorted(params):
            for prefix in ("pk_", "max_range_km_"):
                if n.startswith(prefix) and n[len(prefix) :] not in eng:
                    errs.append((f"params.{n}", f"class {n[len(prefix) :]!r} not in refs.engages"))
        lo, hi = params.get("min_range_km"), params.get("max_range_km")
        if lo and hi and lo.value is not None and hi.value is not None and lo.value >= hi.value:
            errs.append(("params.min_range_km", "must be below max_range_km"))
    elif kind == "sensor":
        if "role" in refs and refs["role"] not in _SENSOR_ROLES:
            errs.append(("refs.role", f"{refs['role']!r} not one of {', '.join(_SENSOR_ROLES)}"))
        det, ins = params.get("detection_range_km"), params.get("instrumented_range_km")
        if det and ins and None not in (det.value, ins.value) and ins.value < det.value:
            errs.append(("params.instrumented_range_km", "must be >= detection_range_km"))
    elif kind == "threat":
        cls, prof = refs.get("class"), refs.get("profile")
        if "class" in refs and cls not in THREAT_CLASSES:
            errs.append(("refs.class", f"{cls!r} not one of {', '.join(THREAT_CLASSES)}"))
        if "profile" in refs and prof not in _PROFILES:
            errs.append(("refs.profile", f"{prof!r} not one of {', '.join(_PROFILES)}"))
        if prof == "ballistic":
            required += list(_BALLISTIC)
    for n in required:
        if n in failed:
            continue
        if n not in params:
            errs.append((f"params.{n}", "required param missing"))
        elif params[n].value is None:
            errs.append((f"params.{n}", "required param has a null value"))
    return errs


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loader (libyaml when available) that rejects duplicate mapping keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            k = self.construct_object(key_node, deep=deep)
            if k in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {k!r}", key_node.start_mark
                )
            seen.add(k)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(base: Any, fname: str, problems: list[str]) -> dict[str, Any]:
    node = base / fname
    if not node.is_file():
        problems.append(f"{fname}: file missing")
        return {}
    try:
        data = yaml.load(node.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as exc:
        problems.append(f"{fname}: YAML error: {exc}")
        return {}
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append(f"{fname}: top level must be a mapping key -> entry")
        return {}
    return data


def _load(base: Any, label: str) -> Catalog:
    problems: list[str] = []
    raw_sources = _read_yaml(base, SOURCES_FILE, problems)
    sources: dict[str, str] = {}
    for sid, desc in raw_sources.items():
        if not isinstance(desc, str):
            problems.append(f"{SOURCES_FILE}: {sid}: description must be a string")
        sources[str(sid)] = str(desc)
    for sid in ("ASSUMPTION", "PHYS"):
        if sid not in sources:
            problems.append(f"{SOURCES_FILE}: {sid}: required source id missing")

    raw: dict[str, tuple[str, str, dict[str, Any]]] = {}  # key -> (kind, file, data)
    for kind, fname in FILES.items():
        for key, data in _read_yaml(base, fname, problems).items():
            key = str(key)
            if key in raw:
                problems.append(f"{fname}: {key}: duplicate key (also in {raw[key][1]})")
                continue
            raw[key] = (kind, fname, data)
    kinds = {k: v[0] for k, v in raw.items()}

    entries: dict[str, Entry] = {}
    for key, (kind, fname, data) in raw.items():
        try:
            em = _EntryModel.model_validate(data)
        except ValidationError as exc:
            problems += [f"{fname}: {key}.{loc}: {msg}" for loc, msg in _fmt_pydantic(exc)]
            continue
        params: dict[str, Param] = {}
        failed: set[str] = set()
        for pname, pdata in em.params.items():
            try:
                pm = _ParamModel.model_validate(pdata)
            except ValidationError as exc:
                problems += [
                    f"{fname}: {key}.params.{pname}.{loc}: {msg}" for loc, msg in _fmt_pydantic(exc)
                ]
                failed.add(pname)
                continue
            errs = _check_param(pname, pm, sources)
            problems += [f"{fname}: {key}.params.{pname}: {m}" for m in errs]
            params[pname] = Param(pm.value, pm.unit, pm.low, pm.high, tuple(pm.source),
                                  pm.confidence, pm.note)  # fmt: skip
        problems += [
            f"{fname}: {key}.{path}: {msg}"
            for path, msg in _check_refs(kind, em.refs, params, kinds, failed)
        ]
        refs = {k: tuple(v) if isinstance(v, list) else v for k, v in em.refs.items()}
        entries[key] = Entry(key, kind, em.name, em.description, MappingProxyType(refs),
                             MappingProxyType(params))  # fmt: skip
    if problems:
        raise CatalogError(
            f"invalid catalog at {label} ({len(problems)} problem(s)):\n  " + "\n  ".join(problems)
        )
    return Catalog(MappingProxyType(entries), MappingProxyType(sources))


@functools.lru_cache(maxsize=1)
def _load_default() -> Catalog:
    return _load(files(__name__) / "data", "iadsim.catalog/data")


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load and validate the catalog in directory ``path`` (default: the bundled data, cached).

    Raises CatalogError listing every problem found, each as ``file: key.params.name: message``.
    """
    if path is None:
        return _load_default()
    p = Path(path)
    if not p.is_dir():
        raise CatalogError(f"{p}: catalog directory not found")
    return _load(p, str(p))
