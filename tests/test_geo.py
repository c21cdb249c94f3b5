"""Geometry: radar horizon, 4/3-earth polar conversion, line of sight, WGS84 round trip."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iadsim import geo

ORIGIN = (48.0, 11.0, 500.0)


@pytest.mark.parametrize(("h_r", "h_t"), [(10.0, 100.0), (25.0, 5000.0), (0.0, 10_000.0)])
def test_horizon_range_matches_4_12_km_rule(h_r: float, h_t: float) -> None:
    # Skolnik: d [km] ~= 4.12 (sqrt(h_r [m]) + sqrt(h_t [m])) for the 4/3 earth.
    expected = 4120.0 * (np.sqrt(h_r) + np.sqrt(h_t))
    assert geo.horizon_range_m(h_r, h_t) == pytest.approx(expected, rel=5e-3)


def test_horizon_range_clips_negative_heights() -> None:
    assert geo.horizon_range_m(-5.0, -1.0) == 0.0
    assert geo.horizon_range_m(-5.0, 100.0) == pytest.approx(geo.horizon_range_m(0.0, 100.0))


finite = st.floats(allow_nan=False, allow_infinity=False)
radar_st = st.tuples(
    finite.filter(lambda v: abs(v) < 1e5),
    finite.filter(lambda v: abs(v) < 1e5),
    st.floats(0.0, 3000.0),
)
offset_st = st.tuples(st.floats(-6e5, 6e5), st.floats(-6e5, 6e5), st.floats(0.0, 1e5)).filter(
    lambda o: np.hypot(o[0], o[1]) > 1.0
)


@settings(max_examples=200, deadline=None)
@given(radar=radar_st, off=offset_st)
def test_polar_round_trip(radar: tuple, off: tuple) -> None:
    radar_pos = np.array(radar)
    target = np.array([radar[0] + off[0], radar[1] + off[1], off[2]])
    z = geo.radar_polar(radar_pos, target)
    assert 0.0 <= z[1] < 2 * np.pi
    assert -np.pi / 2 <= z[2] <= np.pi / 2
    back = geo.polar_to_local(radar_pos, z)
    np.testing.assert_allclose(back, target, atol=1e-6 * max(1.0, z[0]))
    z2 = geo.radar_polar(radar_pos, back)
    np.testing.assert_allclose(z2[0], z[0], rtol=1e-9, atol=1e-6)


def test_radar_polar_known_values_and_broadcasting() -> None:
    radar = np.array([0.0, 0.0, 0.0])
    targets = np.array([[0.0, 10_000.0, 0.0], [10_000.0, 0.0, 0.0], [-10_000.0, 0.0, 0.0]])
    z = geo.radar_polar(radar, targets)
    assert z.shape == (3, 3)
    np.testing.assert_allclose(z[:, 1], [0.0, np.pi / 2, 3 * np.pi / 2], atol=1e-12)
    # A target at radar height appears below the horizontal by the 4/3-earth drop.
    drop = 10_000.0**2 / (2 * geo.K_REFRACTION * geo.EARTH_RADIUS_M)
    np.testing.assert_allclose(z[:, 2], np.arctan2(-drop, 10_000.0), rtol=1e-12)


def test_polar_jacobian_matches_finite_differences() -> None:
    rng = np.random.default_rng(1)
    radar = np.array([100.0, -200.0, 30.0])
    z = np.column_stack(
        [rng.uniform(1e3, 4e5, 20), rng.uniform(0, 2 * np.pi, 20), rng.uniform(-0.1, 1.2, 20)]
    )
    jac = geo.polar_jacobian(radar, z)
    steps = np.array([1e-3, 1e-8, 1e-8])
    for j in range(3):
        dz = np.zeros(3)
        dz[j] = steps[j]
        num = (geo.polar_to_local(radar, z + dz) - geo.polar_to_local(radar, z - dz)) / (
            2 * steps[j]
        )
        np.testing.assert_allclose(jac[:, :, j], num, rtol=1e-5, atol=1e-6)


def test_line_of_sight_at_the_horizon() -> None:
    radar = np.array([0.0, 0.0, 20.0])
    h_t = 1000.0
    d_h = geo.horizon_range_m(20.0, h_t)
    inside = np.array([0.999 * d_h, 0.0, h_t])
    beyond = np.array([1.001 * d_h, 0.0, h_t])
    assert geo.line_of_sight(radar, inside)
    assert not geo.line_of_sight(radar, beyond)
    # Consistent with the elevation model: the grazing ray is below the horizontal.
    assert geo.radar_polar(radar, inside)[2] < 0.0
    assert not geo.line_of_sight(radar, np.array([1000.0, 0.0, 0.0]))  # on the ground
    both = geo.line_of_sight(radar, np.stack([inside, beyond]))
    np.testing.assert_array_equal(both, [True, False])


def test_local_geodetic_round_trip() -> None:
    rng = np.random.default_rng(2)
    lat = ORIGIN[0] + rng.uniform(-2.0, 2.0, 50)
    lon = ORIGIN[1] + rng.uniform(-3.0, 3.0, 50)
    alt = rng.uniform(0.0, 30_000.0, 50)
    enu = geo.to_local(lat, lon, alt, ORIGIN)
    assert enu.shape == (50, 3)
    np.testing.assert_array_equal(enu[:, 2], alt)
    lat2, lon2, alt2 = geo.to_geodetic(enu, ORIGIN)
    np.testing.assert_allclose(lat2, lat, atol=1e-9)
    np.testing.assert_allclose(lon2, lon, atol=1e-9)
    np.testing.assert_array_equal(alt2, alt)
    # The origin maps to (0, 0, h0).
    np.testing.assert_allclose(geo.to_local(*ORIGIN, ORIGIN), [0.0, 0.0, ORIGIN[2]], atol=1e-6)


def test_coverage_is_the_composition_bit_for_bit() -> None:
    # geo.coverage computes radar_polar's r and el and line_of_sight once; same values.
    rng = np.random.default_rng(3)
    radars = np.column_stack(
        [rng.uniform(-5e4, 5e4, 4), rng.uniform(-5e4, 5e4, 4), [0.0, 20.0, 40.0, -5.0]]
    )
    targets = np.column_stack(
        [rng.uniform(-4e5, 4e5, 300), rng.uniform(-4e5, 4e5, 300), rng.uniform(-200, 2e4, 300)]
    )
    max_range, min_el, max_el = np.array([1e5, 2e5, 4e5, 3e5]), -0.02, 0.8
    visible, rng_m = geo.coverage(radars[:, None, :], targets, max_range[:, None], min_el, max_el)
    assert visible.shape == rng_m.shape == (4, 300)
    for s, radar in enumerate(radars):
        z = geo.radar_polar(radar, targets)
        want = (
            geo.line_of_sight(radar, targets)
            & (z[:, 0] <= max_range[s])
            & (z[:, 2] >= min_el)
            & (z[:, 2] <= max_el)
        )
        np.testing.assert_array_equal(visible[s], want)
        np.testing.assert_array_equal(rng_m[s], z[:, 0])
    assert 0 < visible.sum() < visible.size


@pytest.mark.parametrize("n_plots", [0, 1, 3, 8, 9, 40])
def test_polar_to_local_jacobian_is_the_pair_bit_for_bit(n_plots: int) -> None:
    # Both code paths (Python floats for a few plots, arrays for many) give exactly the values
    # of polar_to_local and polar_jacobian: the tracker's state depends on it.
    rng = np.random.default_rng(n_plots)
    radar = np.array([1234.5, -987.6, 31.0])
    z = rng.uniform([1e3, 0.0, -0.1], [4e5, 2 * np.pi, 1.5], (n_plots, 3))  # (r, az, el)
    local, jac = geo.polar_to_local_jacobian(radar, z)
    assert local.shape == (n_plots, 3) and jac.shape == (n_plots, 3, 3)
    np.testing.assert_array_equal(local, geo.polar_to_local(radar, z))
    np.testing.assert_array_equal(jac, geo.polar_jacobian(radar, z))
