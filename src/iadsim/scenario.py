"""Scenario files: YAML validated by pydantic, with errors that name the file and the field.

A scenario says *where* things are and *what* they are (catalog types); the catalog says how
they perform. Units are in the field names; every number must be finite. Every reference (an
asset named by a raid, a catalog type, an override key) is resolved at load, so a scenario
that loads will compile.

    sc = load_scenario("scenarios/layered_defense.yaml")   # raises ScenarioError

See ``scenarios/*.yaml`` for commented examples and ``docs/scenario.md`` for the reference.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from iadsim.catalog import Catalog, CatalogError, load_catalog

MAX_THREATS = 100_000  # a raid larger than this is almost surely a typo


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Place(_Model):
    lat_deg: float = Field(ge=-90, le=90)
    lon_deg: float = Field(ge=-180, le=180)


class Origin(Place):
    alt_m: float = Field(
        0.0, ge=-500, le=9000, description="reference ground height above the ellipsoid"
    )


class Window(_Model):
    """A time window [start_s, end_s) during which a fire unit or a sensor's link is down."""

    start_s: float = Field(ge=0)
    end_s: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s}) must be after start_s ({self.start_s})")
        return self


class Asset(Place):
    name: str = Field(min_length=1)
    alt_m: float | None = Field(
        None, ge=-500, le=9000, description="ground height above the ellipsoid (default: origin's)"
    )
    value: float = Field(gt=0, le=1e6, description="relative value; weights threat priority")
    radius_m: float = Field(gt=0, le=50_000, description="a leaker impacting inside it hits it")


class FireUnit(Place):
    name: str = Field(min_length=1)
    type: str
    alt_m: float | None = Field(
        None, ge=-500, le=9000, description="ground height above the ellipsoid (default: origin's)"
    )
    magazine: dict[str, int] | None = Field(
        None, description="rounds on launchers by interceptor type (default: catalog load)"
    )
    reserve: dict[str, int] | None = Field(
        None, description="reload stock by interceptor type (default: catalog)"
    )
    organic_radars: bool = Field(True, description="place the unit's catalog radars at its site")
    mast_height_m: float | None = Field(None, ge=0, le=100)
    link: str = Field("wired", description="link from its organic radars to the command post")
    down: list[Window] = Field(default_factory=list)

    @model_validator(mode="after")
    def _counts(self) -> FireUnit:
        for field in ("magazine", "reserve"):
            for k, v in (getattr(self, field) or {}).items():
                if not 0 <= v <= 10_000:
                    raise ValueError(f"{field}.{k} = {v}: rounds must be in 0..10000")
        return self


class Sensor(Place):
    name: str = Field(min_length=1)
    type: str
    alt_m: float | None = Field(
        None, ge=-500, le=9000, description="ground height above the ellipsoid (default: origin's)"
    )
    mast_height_m: float | None = Field(None, ge=0, le=100)
    link: str = Field("radio", description="link to the command post: a catalog link type")
    down: list[Window] = Field(default_factory=list, description="outages: plots are lost")


class LaunchArea(Place):
    radius_km: float = Field(0.0, ge=0, le=500, description="launch points uniform in this disc")


class Raid(_Model):
    name: str = Field(min_length=1)
    threat: str = Field(description="catalog threat type")
    count: int = Field(ge=1, le=MAX_THREATS)
    launch: LaunchArea
    launch_time_s: float = Field(
        0.0, ge=0, description="first launch (ballistic threats: start of the terminal phase)"
    )
    spacing_s: float = Field(0.0, ge=0, le=86_400, description="time between launches")
    target: str = Field(description="name of the defended asset aimed at")
    aim_spread_m: float = Field(0.0, ge=0, le=50_000, description="aim points uniform in a disc")
    waypoints: list[Place] = Field(default_factory=list, description="ground route before the aim")
    speed_mps: float | None = Field(None, gt=0, le=10_000, description="override the catalog")
    altitude_m: float | None = Field(None, ge=0, le=100_000, description="cruise altitude override")


class Doctrine(_Model):
    """Firing doctrine, the same for every fire unit (see docs/model.md, section 8).

    ``mode``: ``shoot-look-shoot`` (one salvo at a time, look, re-engage), ``shoot-shoot-look``
    (a second salvo may follow while the first is in flight, then look) or ``salvo`` (like
    shoot-look-shoot with two-round salvos unless ``salvo_size`` says otherwise).
    """

    mode: Literal["shoot-look-shoot", "shoot-shoot-look", "salvo"] = Field(
        "shoot-look-shoot", description="engagement sequence at one track"
    )
    salvo_size: int | None = Field(
        None, ge=1, le=8,
        description="rounds fired together at one track (default: 2 in salvo mode, else 1)",
    )
    max_engagements: int = Field(
        3, ge=1, le=20, description="salvos per track and fire unit, with a look between"
    )
    look_delay_s: float = Field(4.0, ge=0, le=600, description="kill assessment after intercept")
    priority: Literal["value", "time"] = "value"
    hold_below_value: float = Field(
        0.0, ge=0, description="hold fire at threat values at or below this"
    )
    preserve_long_range: bool = Field(
        False, description="keep long-range rounds for threats no cheaper layer can engage"
    )
    long_range_km: float = Field(
        100.0, gt=0, le=10_000,
        description="interceptors reaching farther than this are the long-range layer",
    )
    min_track_hits: int = Field(
        5, ge=1, le=100, description="fire only at tracks updated at least this many times"
    )
    planner: Literal["optimal", "greedy"] = Field(
        "optimal", description="per-frame assignment: exact optimum or greedy marginal return"
    )
    kill_radius_m: float = Field(
        1000.0, gt=0, le=20_000, description="seeker basket around the aimed track"
    )
    range_margin: float = Field(
        0.95, gt=0, le=1, description="plan intercepts within this fraction of max range"
    )
    assess_radius_m: float = Field(
        3000.0, ge=0, le=100_000, description="a track passing this close to an asset threatens it"
    )

    @property
    def rounds_per_salvo(self) -> int:
        """``salvo_size``, or the mode's default (2 for ``salvo``, 1 otherwise)."""
        if self.salvo_size is not None:
            return self.salvo_size
        return 2 if self.mode == "salvo" else 1


class Sensing(_Model):
    """Radar resolution: targets closer than one resolution cell on every axis (range,
    azimuth, elevation) give a single plot. The cell is ``resolution_factor`` times the
    radar's measurement std per axis (a labelled assumption, see docs/model.md sec. 4)."""

    resolution_factor: float = Field(
        6.0, ge=0, le=100,
        description="resolution cell / measurement std per axis; 0: every target is resolved",
    )


class Tracker(_Model):
    accel_sigma_mps2: float = Field(5.0, gt=0, le=1000)
    gate_prob: float = Field(0.999, gt=0.5, lt=1)
    confirm_m: int = Field(3, ge=1, le=20)
    confirm_n: int = Field(5, ge=1, le=40)
    delete_misses: int = Field(5, ge=1, le=100)
    max_pos_sigma_m: float = Field(5000.0, gt=0)
    init_speed_sigma_mps: float = Field(1000.0, gt=0, le=20_000)
    max_coast_s: float = Field(25.0, gt=0, le=3600, description="delete tracks unseen this long")
    capacity: int = Field(64, ge=16, le=1_000_000, description="initial track slots (grows)")
    filter: Literal["cv", "imm"] = Field(
        "cv", description="cv: one constant-velocity Kalman filter; imm: quiet + manoeuvre models")
    manoeuvre_accel_sigma_mps2: float = Field(
        50.0, gt=0, le=1000, description="imm: acceleration noise of the manoeuvre model")
    imm_p_stay: float = Field(
        0.95, gt=0.5, lt=1, description="imm: probability of staying in a model per update")

    @model_validator(mode="after")
    def _m_of_n(self) -> Tracker:
        if self.confirm_m > self.confirm_n:
            raise ValueError(
                f"confirm_m ({self.confirm_m}) must be <= confirm_n ({self.confirm_n})"
            )
        return self


class Scenario(_Model):
    name: str = Field(min_length=1)
    description: str = ""
    origin: Origin
    duration_s: float = Field(gt=0, le=86_400)
    dt_s: float = Field(1.0, gt=0, le=60)
    seed: int = Field(0, ge=0)
    assets: list[Asset] = Field(min_length=1)
    fire_units: list[FireUnit] = Field(default_factory=list)
    sensors: list[Sensor] = Field(default_factory=list)
    raids: list[Raid] = Field(min_length=1)
    doctrine: Doctrine = Doctrine()
    sensing: Sensing = Sensing()
    tracker: Tracker = Tracker()
    overrides: dict[str, float] = Field(
        default_factory=dict,
        description="'<catalog key>.<param>': value in the catalog unit, e.g. '48n6.pk_aircraft'",
    )

    @model_validator(mode="after")
    def _totals(self) -> Scenario:
        total = sum(r.count for r in self.raids)
        if total > MAX_THREATS:
            raise ValueError(f"raids launch {total} threats in all; the limit is {MAX_THREATS}")
        if self.dt_s > self.duration_s:
            raise ValueError(f"dt_s ({self.dt_s}) is longer than duration_s ({self.duration_s})")
        return self

    @property
    def threat_count(self) -> int:
        return sum(r.count for r in self.raids)


class ScenarioError(ValueError):
    """A scenario that cannot be used; ``problems`` lists each one as 'file: field: message'."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and not part.startswith("function-"):
            out += f".{part}" if out else part
    return out or "(top level)"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that owns the field at ``loc`` (for listing valid keys)."""
    model: Any = Scenario
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            return None
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        nested = [a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not nested:
            return None
        model = nested[0]
    return model


def _suggest(name: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{hint}; valid: {', '.join(valid)}"


def _pydantic_problems(err: ValidationError) -> list[str]:
    problems = []
    for e in err.errors():
        loc = e["loc"]
        where = _loc(loc)
        if e["type"] == "extra_forbidden":
            model = _model_at(loc)
            valid = sorted(model.model_fields) if model else []
            problems.append(f"{where}: unknown key{_suggest(str(loc[-1]), valid)}")
        else:
            msg = e["msg"]
            if e["type"] not in ("missing",) and "input" in e and not isinstance(e["input"], dict):
                msg += f" (got {e['input']!r})"
            problems.append(f"{where}: {msg}")
    return problems


def _reference_problems(sc: Scenario, cat: Catalog) -> list[str]:
    problems: list[str] = []

    def check(where: str, key: str, kind: str) -> bool:
        if key in cat.keys(kind):
            return True
        problems.append(f"{where}: unknown {kind.replace('_', ' ')} type {key!r}"
                        f"{_suggest(key, cat.keys(kind))}")
        return False

    for label, items in (("assets", sc.assets), ("fire_units", sc.fire_units),
                         ("sensors", sc.sensors), ("raids", sc.raids)):
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.name in seen:
                problems.append(f"{label}[{i}].name: duplicate name {item.name!r}")
            seen.add(item.name)
    assets = [a.name for a in sc.assets]
    for i, fu in enumerate(sc.fire_units):
        if check(f"fire_units[{i}].type", fu.type, "fire_unit"):
            weapons = list(cat.get(fu.type).refs["interceptors"])
            for field in ("magazine", "reserve"):
                for k in getattr(fu, field) or {}:
                    if k not in weapons:
                        problems.append(f"fire_units[{i}].{field}.{k}: not an interceptor of "
                                        f"{fu.type}{_suggest(k, weapons)}")
        check(f"fire_units[{i}].link", fu.link, "link")
    for i, s in enumerate(sc.sensors):
        check(f"sensors[{i}].type", s.type, "sensor")
        check(f"sensors[{i}].link", s.link, "link")
    for i, r in enumerate(sc.raids):
        check(f"raids[{i}].threat", r.threat, "threat")
        if r.target not in assets:
            problems.append(f"raids[{i}].target: no asset named {r.target!r}"
                            f"{_suggest(r.target, assets)}")
    for key, value in sc.overrides.items():
        entry_key, _, param = key.partition(".")
        if entry_key not in cat.keys():
            problems.append(f"overrides.{key}: unknown catalog entry {entry_key!r}"
                            f"{_suggest(entry_key, cat.keys())}")
            continue
        params = sorted(cat.get(entry_key).params)
        if param not in params:
            problems.append(f"overrides.{key}: {entry_key} has no parameter {param!r}"
                            f"{_suggest(param, params)}")
            continue
        if (value < 0 and not param.endswith("_deg")) or (param.startswith("pk_") and value > 1):
            problems.append(f"overrides.{key}: {value} is out of range "
                            f"({'0..1' if param.startswith('pk_') else '>= 0'})")
    return problems


def parse_scenario(data: Any, source: str = "<scenario>", catalog: Catalog | None = None
                   ) -> Scenario:
    """Validate a mapping (already parsed YAML) into a :class:`Scenario`."""
    if not isinstance(data, dict):
        raise ScenarioError(source, [f"(top level): expected a mapping, got {type(data).__name__}"])
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(source, _pydantic_problems(err)) from None
    try:
        cat = catalog or load_catalog()
    except CatalogError as err:  # pragma: no cover - the bundled catalog is tested
        raise ScenarioError(source, [f"catalog: {err}"]) from None
    problems = _reference_problems(sc, cat)
    if problems:
        raise ScenarioError(source, problems)
    return sc


def load_scenario(path: str | Path, catalog: Catalog | None = None) -> Scenario:
    """Read and validate a scenario YAML file (``yaml.safe_load`` only)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError(str(path), [f"cannot read file: {err.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(yaml)"
        raise ScenarioError(str(path), [f"{where}: invalid YAML: {err}"]) from None
    return parse_scenario(data, str(path), catalog)
