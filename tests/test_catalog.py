"""Tests for the parameter catalog (iadsim.catalog): bundled data, API and load-time validation."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml

from iadsim.catalog import (
    ALLOWED_UNITS,
    CONFIDENCES,
    KINDS,
    REQUIRED_PARAMS,
    THREAT_CLASSES,
    Catalog,
    CatalogError,
    Param,
    load_catalog,
)

EXPECTED = {
    "fire_unit": {"s-400", "s-300ps", "s-125-2bm", "tor-m2k"},
    "interceptor": {"40n6", "48n6", "5v55", "5v27", "9m338k", "9m331"},
    "sensor": {"91n6e", "92n6e", "96l6e", "64n6e", "30n6e", "snr-125", "p-18", "tor-m2k-radar"},
    "threat": {
        "mig-29", "mi-35m", "kh-101", "tomahawk", "zircon", "oreshnik", "srbm", "umpk-fab",
        "shahed-136", "chekan-v", "mirotvorets", "kvadro-1400", "fpv",
    },
    "link": {"radio", "kulisa", "wired"},
}  # fmt: skip
DATA_DIR = Path(str(files("iadsim.catalog") / "data"))


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return load_catalog()


def all_params(cat: Catalog):
    for e in cat.entries.values():
        for name, p in e.params.items():
            yield e, name, p


# ------------------------------------------------------------------ bundled data


def test_bundled_catalog_has_expected_entries(cat: Catalog) -> None:
    for kind in KINDS:
        assert set(cat.keys(kind)) == EXPECTED[kind], kind
        assert all(e.kind == kind for e in cat.of_kind(kind))
    assert len(cat.keys()) == sum(len(v) for v in EXPECTED.values())
    assert {"ASSUMPTION", "PHYS", "ART", "P16", "G1", "I2"} <= set(cat.sources)


def test_default_load_is_cached(cat: Catalog) -> None:
    assert load_catalog() is cat


def test_required_params_present_and_not_null(cat: Catalog) -> None:
    for kind in KINDS:
        for e in cat.of_kind(kind):
            for name in REQUIRED_PARAMS[kind]:
                assert e.p(name).value is not None, (e.key, name)


def test_every_param_is_well_formed(cat: Catalog) -> None:
    for e, name, p in all_params(cat):
        where = f"{e.key}.{name}"
        assert p.unit in ALLOWED_UNITS, where
        assert p.confidence in CONFIDENCES, where
        assert isinstance(p.note, str), where
        assert p.source and all(s in cat.sources for s in p.source), where
        if p.value is not None:
            assert p.low is None or p.low <= p.value, where
            assert p.high is None or p.value <= p.high, where


def test_assumptions_cite_only_assumption(cat: Catalog) -> None:
    n = 0
    for e, name, p in all_params(cat):
        if p.is_assumption:
            n += 1
            assert p.source == ("ASSUMPTION",), f"{e.key}.{name}"
            assert p.note.strip(), f"{e.key}.{name}: an assumption must state its basis"
    assert n > 50  # most radar, Pk, cost and reaction figures are assumptions


def test_non_assumptions_cite_a_real_source(cat: Catalog) -> None:
    for e, name, p in all_params(cat):
        if not p.is_assumption and p.value is not None:
            assert [s for s in p.source if s != "ASSUMPTION"], f"{e.key}.{name}"
            assert "ASSUMPTION" not in p.source, f"{e.key}.{name}"


def test_pk_is_always_an_assumption(cat: Catalog) -> None:
    for e in cat.of_kind("interceptor"):
        engages = e.refs["engages"]
        assert set(engages) <= set(THREAT_CLASSES)
        for c in THREAT_CLASSES:
            if c in engages:
                pk = e.p(f"pk_{c}")
                assert pk.is_assumption and pk.unit == "probability"
                assert 0.0 <= pk.value <= 1.0
            else:
                assert f"pk_{c}" not in e.params


def test_fire_unit_refs_and_mix(cat: Catalog) -> None:
    for fu in cat.of_kind("fire_unit"):
        assert isinstance(fu.refs["chassis"], str) and fu.refs["chassis"]
        for r in fu.refs["radars"]:
            assert cat.get(r, "sensor").kind == "sensor"
        mix = [fu.p(f"mix_{i}").value for i in fu.refs["interceptors"]]
        assert math.isclose(sum(mix), 1.0, abs_tol=1e-9), fu.key
        for i in fu.refs["interceptors"]:
            assert cat.get(i, "interceptor").key == i


def test_specific_figures(cat: Catalog) -> None:
    s400 = cat.get("s-400", "fire_unit")
    assert tuple(s400.refs["interceptors"]) == ("40n6", "48n6")
    assert tuple(s400.refs["radars"]) == ("91n6e", "92n6e")
    assert (s400.p("launchers").value, s400.p("rails_per_launcher").value) == (8, 4)
    assert s400.p("channels").value == 6 and s400.p("tracks_max").value == 100
    assert s400.p("reserve_rounds").value == 112 - 32
    assert s400.p("reaction_time_s").is_assumption
    tor = cat.get("tor-m2k")
    assert tor.p("channels").value == 16 and tor.p("rails_per_launcher").value == 16
    assert tor.p("mix_9m331").value == 0.0
    assert not {"ballistic", "hypersonic"} & set(cat.get("9m338k").refs["engages"])
    assert set(cat.get("40n6").refs["engages"]) == set(THREAT_CLASSES)
    assert cat.get("48n6").si("max_range_km_ballistic") == 60_000.0
    assert cat.get("48n6").si("max_range_km_aircraft") == 250_000.0
    assert cat.get("5v27").p("max_target_speed_mps").value == 550
    assert cat.get("shahed-136").p("rcs_m2").value == 0.06
    assert cat.get("tomahawk").p("cost_usd").value == 1_400_000
    assert cat.get("oreshnik").refs["profile"] == "ballistic"
    assert cat.get("zircon").refs["class"] == "hypersonic"
    kulisa = cat.get("kulisa", "link").p("latency_s")
    assert kulisa.value >= 0.239 and "PHYS" in kulisa.source
    for s in cat.of_kind("sensor"):
        assert s.p("instrumented_range_km").value >= s.p("detection_range_km").value


# ------------------------------------------------------------------ SI conversions


def test_si_conversions(cat: Catalog) -> None:
    assert cat.get("s-400").p("unit_cost_usd").si == 550_000_000.0
    p40 = cat.get("40n6").p("max_range_km")
    assert p40.si == 400_000.0 and p40.si_low == 380_000.0 and p40.si_high == 400_000.0
    assert cat.get("40n6").si("max_range_km") == 400_000.0
    assert cat.get("91n6e").si("sigma_azimuth_mrad") == pytest.approx(0.005)
    assert cat.get("zircon").si("dive_angle_deg") == pytest.approx(math.radians(30))
    assert cat.get("oreshnik").si("reentry_altitude_km") == 80_000.0
    kmh = Param(200, "km/h", 100, None, ("P56",), "medium", "")
    assert kmh.si == pytest.approx(55.5556, rel=1e-4)
    assert kmh.si_low == pytest.approx(27.7778, rel=1e-4) and kmh.si_high is None
    assert Param(5, "min", None, None, ("P16",), "medium", "").si == 300.0
    assert Param(3, "count", None, None, ("ART",), "high", "").si == 3.0
    assert isinstance(Param(3, "count", None, None, ("ART",), "high", "").si, float)
    with pytest.raises(CatalogError):
        _ = Param(None, "km", None, None, ("ART",), "unknown", "no figure").si


# ------------------------------------------------------------------ lookup errors


def test_unknown_key_suggests_close_match(cat: Catalog) -> None:
    with pytest.raises(CatalogError) as exc:
        cat.get("s400")
    msg = str(exc.value)
    assert "did you mean 's-400'?" in msg
    assert "s-300ps" in msg and "tor-m2k" in msg  # lists valid keys
    with pytest.raises(CatalogError) as exc:
        cat.get("s400", "fire_unit")
    assert "did you mean 's-400'?" in str(exc.value) and "40n6" not in str(exc.value)


def test_wrong_kind_and_unknown_kind(cat: Catalog) -> None:
    with pytest.raises(CatalogError, match="is of kind interceptor, not fire_unit"):
        cat.get("40n6", "fire_unit")
    with pytest.raises(CatalogError, match="unknown kind"):
        cat.get("s-400", "missile")
    with pytest.raises(CatalogError, match="unknown kind"):
        cat.of_kind("missile")


def test_unknown_param_suggests_close_match(cat: Catalog) -> None:
    with pytest.raises(CatalogError) as exc:
        cat.get("s-400").p("chanels")
    msg = str(exc.value)
    assert "'s-400'" in msg and "'chanels'" in msg and "did you mean 'channels'?" in msg
    assert "reload_time_s" in msg
    with pytest.raises(CatalogError):
        cat.get("s-400").si("max_range_km")


def test_catalog_is_read_only(cat: Catalog) -> None:
    with pytest.raises(TypeError):
        cat.entries["x"] = cat.get("s-400")  # type: ignore[index]
    with pytest.raises(TypeError):
        cat.get("s-400").params["channels"] = None  # type: ignore[index]


# ------------------------------------------------------------------ broken catalogs


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "data"
    shutil.copytree(DATA_DIR, dst)
    return dst


def _edit(d: Path, fname: str, fn: Callable[[dict[str, Any]], None]) -> None:
    path = d / fname
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _set(key: str, param: str, field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def fn(data: dict[str, Any]) -> None:
        data[key]["params"][param][field] = value

    return fn


def _mix_bad(data: dict[str, Any]) -> None:
    data["s-400"]["params"]["mix_48n6"]["value"] = 0.5


def _drop(key: str, param: str) -> Callable[[dict[str, Any]], None]:
    def fn(data: dict[str, Any]) -> None:
        del data[key]["params"][param]

    return fn


BROKEN = [
    ("bad unit", "sensors.yaml", _set("91n6e", "detection_range_km", "unit", "miles"),
     "sensors.yaml: 91n6e.params.detection_range_km.unit"),
    ("unit/name mismatch", "sensors.yaml", _set("91n6e", "detection_range_km", "unit", "m"),
     "sensors.yaml: 91n6e.params.detection_range_km: unit 'm' needs a name ending in '_m'"),
    ("missing source id", "threats.yaml", _set("tomahawk", "cost_usd", "source", ["P99"]),
     "threats.yaml: tomahawk.params.cost_usd: source id 'P99' not in sources.yaml"),
    ("mix not summing to 1", "fire_units.yaml", _mix_bad,
     "fire_units.yaml: s-400.params.mix_*: mix fractions sum to 0.75, not 1"),
    ("low > value", "interceptors.yaml", _set("40n6", "max_range_km", "low", 500),
     "interceptors.yaml: 40n6.params.max_range_km: low 500 > value 400"),
    ("missing required param", "fire_units.yaml", _drop("tor-m2k", "reload_time_s"),
     "fire_units.yaml: tor-m2k.params.reload_time_s: required param missing"),
    ("missing pk", "interceptors.yaml", _drop("9m338k", "pk_fpv"),
     "interceptors.yaml: 9m338k.params.pk_fpv: required param missing"),
    ("missing ballistic param", "threats.yaml", _drop("oreshnik", "reentry_angle_deg"),
     "threats.yaml: oreshnik.params.reentry_angle_deg: required param missing"),
    ("null required value", "links.yaml", _set("radio", "latency_s", "value", None),
     "links.yaml: radio.params.latency_s: required param has a null value"),
    ("pk out of range", "interceptors.yaml", _set("48n6", "pk_aircraft", "value", 1.5),
     "interceptors.yaml: 48n6.params.pk_aircraft: value 1.5 outside [0, 1]"),
    ("string value", "sensors.yaml", _set("p-18", "pfa", "value", "1e-6"),
     "sensors.yaml: p-18.params.pfa.value"),
    ("bad confidence", "links.yaml", _set("wired", "loss_prob", "confidence", "certain"),
     "links.yaml: wired.params.loss_prob.confidence"),
    ("assumption with a real source", "links.yaml", _set("wired", "loss_prob", "source", ["ART"]),
     "links.yaml: wired.params.loss_prob: confidence 'assumption' needs source [ASSUMPTION]"),
    ("missing field", "links.yaml", lambda d: d["kulisa"]["params"]["latency_s"].pop("note"),
     "links.yaml: kulisa.params.latency_s.note: Field required"),
    ("extra field", "links.yaml", _set("kulisa", "latency_s", "median", 0.3),
     "links.yaml: kulisa.params.latency_s.median: Extra inputs are not permitted"),
    ("unknown class", "interceptors.yaml", lambda d: d["5v27"]["refs"]["engages"].append("ufo"),
     "interceptors.yaml: 5v27.refs.engages: unknown class 'ufo'"),
    ("radar of wrong kind", "fire_units.yaml",
     lambda d: d["s-400"]["refs"].__setitem__("radars", ["91n6e", "48n6"]),
     "fire_units.yaml: s-400.refs.radars: '48n6' is of kind interceptor; need a sensor"),
    ("bad profile", "threats.yaml", lambda d: d["fpv"]["refs"].__setitem__("profile", "lob"),
     "threats.yaml: fpv.refs.profile: 'lob' not one of cruise, ballistic"),
    ("duplicate key", "links.yaml", lambda d: d.__setitem__("s-400", d["radio"]),
     "links.yaml: s-400: duplicate key (also in fire_units.yaml)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fname", "edit", "expected"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_broken_catalog_raises(
    tmp_path: Path, fname: str, edit: Callable[[dict[str, Any]], None], expected: str
) -> None:
    d = _copy(tmp_path)
    load_catalog(d)  # the unmodified copy is valid
    _edit(d, fname, edit)
    with pytest.raises(CatalogError) as exc:
        load_catalog(d)
    assert expected in str(exc.value), str(exc.value)
    assert str(d) in str(exc.value)


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    _edit(d, "sensors.yaml", _set("91n6e", "detection_range_km", "unit", "miles"))
    _edit(d, "threats.yaml", _set("tomahawk", "cost_usd", "source", ["P99"]))
    _edit(d, "fire_units.yaml", _mix_bad)
    with pytest.raises(CatalogError) as exc:
        load_catalog(d)
    msg = str(exc.value)
    assert "3 problem(s)" in msg
    for part in ("sensors.yaml: 91n6e", "threats.yaml: tomahawk", "fire_units.yaml: s-400"):
        assert part in msg


def test_duplicate_key_within_a_file(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    with (d / "links.yaml").open("a", encoding="utf-8") as f:
        f.write("radio:\n  name: x\n  description: y\n  params: {}\n")
    with pytest.raises(CatalogError, match="links.yaml: YAML error: .*duplicate key 'radio'"):
        load_catalog(d)


def test_missing_file_and_dir(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="catalog directory not found"):
        load_catalog(tmp_path / "nope")
    d = _copy(tmp_path)
    (d / "links.yaml").unlink()
    with pytest.raises(CatalogError, match="links.yaml: file missing"):
        load_catalog(d)
