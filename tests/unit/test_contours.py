"""Isolines and isobands (core/compute/contours.py) against analytic fields: a linear field's contour of
level L is exactly the line f = L (vertices are checked against the formula, never against our own
output), a cone's contours are circles and its bands annuli of known area, a field equal to latitude
has contours at exactly that latitude (polar grid)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from kazarr_provider.core.compute.contours import (
    MAX_LEVELS, contour_levels, geojson_multilinestring, geojson_multipolygon, index_bands, index_lines,
    isobands, isolines)
from kazarr_provider.errors import InvalidParameter


def grid(lon1, lat1):
    lon, lat = np.meshgrid(np.asarray(lon1, float), np.asarray(lat1, float))
    return lon, lat


def points(lines):
    return np.concatenate(lines) if lines else np.empty((0, 2))


def signed_area(ring):
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))


def area(polygons):
    return sum(shapely.Polygon(p[0], p[1:]).area for p in polygons)


def assert_geojson_lines(lines):
    """Valid RFC 7946 pieces: longitudes within [-180, 180], no segment spanning 180 degrees or more."""
    for line in lines:
        assert line.dtype == np.float64 and line.ndim == 2 and line.shape[1] == 2 and len(line) >= 2
        assert (np.abs(line[:, 0]) <= 180).all() and (np.abs(line[:, 1]) <= 90).all()
        assert (np.abs(np.diff(line[:, 0])) < 180).all()


def assert_rfc_polygons(polygons):
    for polygon in polygons:
        for k, ring in enumerate(polygon):
            assert len(ring) >= 4 and (ring[0] == ring[-1]).all()
            assert (np.abs(ring[:, 0]) <= 180).all() and (np.abs(np.diff(ring[:, 0])) < 180).all()
            assert (signed_area(ring) > 0) == (k == 0), 'outer rings counter-clockwise, holes clockwise'


def sorted_points(lines):
    """The distinct vertices, sorted (a closed line repeats a point that depends on where it starts)."""
    return np.unique(np.round(points(lines), 7), axis=0)


# --- levels ---------------------------------------------------------------------------------------

def test_levels_list_kept_in_request_order():
    np.testing.assert_array_equal(contour_levels([5, -1, 2.5], np.zeros(3)), [5, -1, 2.5])


def test_levels_step_multiples_within_min_max():
    np.testing.assert_allclose(contour_levels({'step': 2, 'min': -3, 'max': 7}, np.zeros(1)), [-2, 0, 2, 4, 6])
    # ends that are multiples are kept despite 0.3 / 0.1 == 2.9999999999999996
    np.testing.assert_allclose(contour_levels({'step': 0.1, 'min': 0.3, 'max': 0.6}, np.zeros(1)),
                               [0.3, 0.4, 0.5, 0.6])


def test_levels_step_defaults_to_finite_range():
    values = np.array([[np.nan, -4.5, 3.2], [np.inf, 0.0, -np.inf]])
    np.testing.assert_allclose(contour_levels({'step': 2}, values), [-4, -2, 0, 2])
    np.testing.assert_allclose(contour_levels({'step': 2, 'min': 1}, values), [2])
    np.testing.assert_allclose(contour_levels({'step': 2, 'max': -1}, values), [-4, -2])


def test_levels_no_finite_value_gives_none():
    assert contour_levels({'step': 1}, np.full((3, 3), np.nan)).size == 0
    np.testing.assert_allclose(contour_levels({'step': 1, 'min': 0, 'max': 2}, np.full(2, np.nan)), [0, 1, 2])


@pytest.mark.parametrize('spec', [
    [], [1, float('nan')], [1, float('inf')], [1, 'a'], [1, [2]], [True], 'steps', 5, None,
    {'min': 1}, {'step': 0}, {'step': -1}, {'step': float('nan')}, {'step': 1, 'min': 'x'},
    {'step': 1, 'min': 5, 'max': 1}, {'step': 1, 'every': 2},
    list(range(MAX_LEVELS + 1)), {'step': 0.001, 'min': 0, 'max': 10}, {'step': 1e-300, 'min': 0, 'max': 1},
])
def test_levels_errors_name_levels(spec):
    with pytest.raises(InvalidParameter) as info:
        contour_levels(spec, np.arange(10.0))
    assert info.value.parameter == 'levels' and info.value.description.startswith('levels: ')
    assert info.value.code == 'InvalidParameterValue'


def test_levels_thousand_allowed():
    assert contour_levels(list(range(MAX_LEVELS)), np.zeros(1)).size == MAX_LEVELS
    assert contour_levels({'step': 1, 'min': 1, 'max': MAX_LEVELS}, np.zeros(1)).size == MAX_LEVELS


# --- isolines -------------------------------------------------------------------------------------

def smooth_field(ny=60, nx=80):
    y, x = np.mgrid[0:ny, 0:nx].astype(float)
    values = np.sin(x / 7.0) * np.cos(y / 5.0) + 0.01 * x
    values[20:26, 30:41] = np.nan          # a hole of missing data
    values[0, 0] = np.nan
    return values


@pytest.mark.parametrize('level', [-0.5, 0.0, 0.3, 0.7])
def test_every_index_vertex_on_a_cell_edge_where_the_interpolation_equals_the_level(level):
    values = smooth_field()
    lines = index_lines(values, level)
    assert lines
    for x, y in points(lines):
        xi, yi = round(x), round(y)
        if x == xi and y == yi:
            assert values[yi, xi] == pytest.approx(level, abs=1e-9)
        elif x == xi:                       # on the edge between rows floor(y) and floor(y) + 1
            i = int(np.floor(y))
            a, b = values[i, xi], values[i + 1, xi]
            assert np.isfinite(a) and np.isfinite(b)
            assert a + (y - i) * (b - a) == pytest.approx(level, abs=1e-9)
        else:
            assert y == yi, 'a vertex lies on a cell edge: one of its indices is an integer'
            j = int(np.floor(x))
            a, b = values[yi, j], values[yi, j + 1]
            assert np.isfinite(a) and np.isfinite(b)
            assert a + (x - j) * (b - a) == pytest.approx(level, abs=1e-9)


def test_linear_field_vertices_on_the_exact_line_in_request_order():
    lon, lat = grid(np.arange(-20, 20.01, 0.5), np.arange(30, 60.01, 0.5))
    f = lon + 2 * lat
    levels = [110, 60, 95.25, 500]
    result = isolines(f, lon, lat, levels)
    assert len(result) == 4 and result[3] == []          # 500 never occurs
    for level, lines in zip(levels[:3], result):
        assert len(lines) == 1                            # a straight line across the grid: one open line
        line = lines[0]
        assert_geojson_lines(lines)
        assert not (line[0] == line[-1]).all()
        np.testing.assert_allclose(line[:, 0] + 2 * line[:, 1], level, atol=1e-9)


def test_vertices_map_along_the_cell_edge():
    """On lon = 10 + 2 col, lat = -5 + 3 row, each geographic vertex is the index vertex mapped linearly."""
    values = smooth_field()
    ny, nx = values.shape
    lon, lat = grid(10 + 2 * np.arange(nx), -5 + 3 * np.arange(ny))
    level = 0.3
    expected = [np.column_stack([10 + 2 * l[:, 0], -5 + 3 * l[:, 1]]) for l in index_lines(values, level)]
    (lines,) = isolines(values, lon, lat, [level])
    np.testing.assert_allclose(sorted_points(lines), sorted_points(expected), atol=1e-9)


def cone_grid(h=0.1):
    lon, lat = grid(np.arange(-10, 10 + h / 2, h), np.arange(-8, 8 + h / 2, h))
    return lon, lat


def test_cone_contour_is_one_closed_ring():
    lon, lat = cone_grid()
    f = (lon - 1) ** 2 + (lat + 2) ** 2
    ((ring,),) = isolines(f, lon, lat, [9.0])
    assert (ring[0] == ring[-1]).all()
    np.testing.assert_allclose(np.hypot(ring[:, 0] - 1, ring[:, 1] + 2), 3.0, atol=2e-3)


def test_two_bumps_give_two_separate_closed_lines():
    lon, lat = cone_grid()
    f = np.minimum((lon + 5) ** 2 + lat ** 2, (lon - 5) ** 2 + lat ** 2)
    (lines,) = isolines(f, lon, lat, [4.0])
    assert len(lines) == 2
    centres = sorted(round(float(line[:, 0].mean())) for line in lines)
    assert centres == [-5, 5]
    for line in lines:
        assert (line[0] == line[-1]).all()
        c = -5 if line[:, 0].mean() < 0 else 5
        np.testing.assert_allclose(np.hypot(line[:, 0] - c, line[:, 1]), 2.0, atol=2e-3)


def test_descending_latitude_same_answer():
    lon, lat = cone_grid(0.25)
    f = np.sin(lon / 3) * np.cos(lat / 2) + 0.1 * lat
    levels = [-0.5, 0.2, 0.6]
    up = isolines(f, lon, lat, levels)
    down = isolines(f[::-1], lon[::-1], lat[::-1], levels)
    for a, b in zip(up, down):
        assert len(a) == len(b)
        np.testing.assert_allclose(sorted_points(a), sorted_points(b), atol=1e-6)


def crossing_check(lines, level, continuous):
    """lon + 2 lat = level with lon taken back to the grid's continuous longitude."""
    assert_geojson_lines(lines)
    for line in lines:
        np.testing.assert_allclose(continuous(line[:, 0]) + 2 * line[:, 1], level, atol=1e-9)
    ends = [tuple(p) for line in lines for p in (line[0], line[-1])]
    return ends


@pytest.mark.parametrize('lon1, continuous', [
    (np.arange(0.5, 360, 1.0), lambda lon: np.where(lon < 0, lon + 360, lon)),                # 0..360
    (np.arange(170, 190.01, 0.5), lambda lon: np.where(lon < 0, lon + 360, lon)),             # 170..190
    (np.mod(np.arange(170, 190.01, 0.5) + 180, 360) - 180, lambda lon: np.where(lon < 0, lon + 360, lon)),
])
def test_line_crossing_the_antimeridian_is_split_there(lon1, continuous):
    lat1 = np.arange(-10, 10.01, 0.5)
    lon, lat = grid(lon1, lat1)
    f = continuous(lon) + 2 * lat
    level = 180 + 2 * 2.2                                  # crosses ±180 at latitude 2.2
    (lines,) = isolines(f, lon, lat, [level])
    ends = crossing_check(lines, level, continuous)
    assert len(lines) == 2
    assert (180.0, pytest.approx(2.2)) in ends and (-180.0, pytest.approx(2.2)) in ends
    assert sorted(np.sign(line[:, 0].mean()) for line in lines) == [-1, 1]


def test_ring_around_the_antimeridian_becomes_two_open_pieces():
    lon, lat = grid(np.arange(0.05, 360, 0.1), np.arange(-10, 10.01, 0.1))
    f = (lon - 180) ** 2 + (lat - 1) ** 2
    (lines,) = isolines(f, lon, lat, [16.0])
    assert_geojson_lines(lines)
    assert len(lines) == 2
    for line in lines:
        assert not (line[0] == line[-1]).all()
        assert sorted(np.abs(line[[0, -1], 0])) == [180.0, 180.0]
        dlon = np.where(line[:, 0] < 0, line[:, 0] + 360, line[:, 0]) - 180
        np.testing.assert_allclose(np.hypot(dlon, line[:, 1] - 1), 4.0, atol=2e-3)


def rotated_grid(theta=0.5, d=0.2, ny=80, nx=90):
    i, j = np.mgrid[0:ny, 0:nx].astype(float)
    lon = -30 + d * (np.cos(theta) * j - np.sin(theta) * i)
    lat = 20 + d * (np.sin(theta) * j + np.cos(theta) * i)
    return lon, lat


def test_curvilinear_grid_linear_field_exact():
    lon, lat = rotated_grid()
    f = 3 * lon - lat
    levels = [-100, -95.5, -90]
    for level, lines in zip(levels, isolines(f, lon, lat, levels)):
        assert lines
        for line in lines:
            np.testing.assert_allclose(3 * line[:, 0] - line[:, 1], level, atol=1e-9)


def test_projected_grid_vertices_on_the_index_line_and_the_utm_edge():
    x = 400_000 + 2_000.0 * np.arange(50)
    y = 5_200_000 - 2_000.0 * np.arange(40)                # north-up: descending northing
    to_lonlat = Transformer.from_crs('EPSG:32633', 'OGC:CRS84', always_xy=True)
    xx, yy = np.meshgrid(x, y)
    lon, lat = to_lonlat.transform(xx, yy)
    rows, cols = np.mgrid[0:40, 0:50].astype(float)
    f = 0.5 * cols + 0.8 * rows                            # linear on the index, so on x, y
    level = 20.3
    index = index_lines(f, level)
    for line in index:
        np.testing.assert_allclose(0.5 * line[:, 0] + 0.8 * line[:, 1], level, atol=1e-9)
    (lines,) = isolines(f, lon, lat, [level])
    assert len(lines) == len(index) == 1
    ux, uy = to_lonlat.transform(lines[0][:, 0], lines[0][:, 1], direction='INVERSE')
    # lon/lat interpolated along a 2 km edge stays within centimetres of the straight UTM edge
    np.testing.assert_allclose(ux, x[0] + 2_000 * index[0][:, 0], atol=0.05)
    np.testing.assert_allclose(uy, y[0] - 2_000 * index[0][:, 1], atol=0.05)


def test_missing_values_are_avoided():
    lon, lat = grid(np.arange(0, 20.01, 0.5), np.arange(0, 10.01, 0.5))
    f = lon + 2 * lat
    f[:, (lon[0] > 5) & (lon[0] < 12)] = np.nan
    (lines,) = isolines(f, lon, lat, [20.0])
    assert len(lines) == 2                                 # the line is cut by the gap
    for line in lines:
        np.testing.assert_allclose(line[:, 0] + 2 * line[:, 1], 20.0, atol=1e-9)
        assert ((line[:, 0] <= 5) | (line[:, 0] >= 12)).all()


def test_cells_without_coordinates_are_missing():
    lon, lat = grid(np.arange(0, 20.01, 0.5), np.arange(0, 10.01, 0.5))
    f = lon + 2 * lat
    lon = lon.copy()
    lon[:, (lon[0] > 5) & (lon[0] < 12)] = np.nan
    (lines,) = isolines(f, lon, lat, [20.0])
    assert len(lines) == 2 and np.isfinite(points(lines)).all()


def test_degenerate_grids_give_empty_answers():
    lon, lat = grid([1.0, 2.0, 3.0], [5.0])
    assert isolines(lon, lon, lat, [1.5, 2.5]) == [[], []]
    assert isobands(lon, lon, lat, [1.5, 2.5]) == [[]]


def polar_grid():
    half = 3_000_000.0
    x = np.linspace(-half, half, 60)                       # the pole lies between grid points
    xx, yy = np.meshgrid(x, x[::-1])
    lon, lat = Transformer.from_crs('EPSG:3413', 'OGC:CRS84', always_xy=True).transform(xx, yy)
    return lon, lat


def test_polar_grid_latitude_circle():
    lon, lat = polar_grid()
    (lines,) = isolines(lat, lon, lat, [75.0])             # the field is the latitude itself
    assert_geojson_lines(lines)
    assert lines
    pts = points(lines)
    np.testing.assert_allclose(pts[:, 1], 75.0, atol=1e-9)
    assert pts[:, 0].min() == -180.0 and pts[:, 0].max() == 180.0


# --- isobands -------------------------------------------------------------------------------------

def test_annulus_area_and_orientation():
    lon, lat = cone_grid(0.05)
    f = (lon - 1) ** 2 + (lat + 1) ** 2
    (band,) = isobands(f, lon, lat, [4.0, 16.0])           # 2 <= r < 4
    assert_rfc_polygons(band)
    assert len(band) == 1 and len(band[0]) == 2            # one polygon, one hole
    assert area(band) == pytest.approx(np.pi * 12, rel=2e-3)
    np.testing.assert_allclose(np.hypot(band[0][0][:, 0] - 1, band[0][0][:, 1] + 1), 4, atol=1e-3)
    np.testing.assert_allclose(np.hypot(band[0][1][:, 0] - 1, band[0][1][:, 1] + 1), 2, atol=1e-3)


def test_several_bands_and_descending_latitude():
    lon, lat = cone_grid(0.05)
    f = lon ** 2 + lat ** 2
    levels = [-1.0, 1.0, 9.0, 25.0]
    up = isobands(f, lon, lat, levels)
    down = isobands(f[::-1], lon[::-1], lat[::-1], levels)
    expected = [np.pi, np.pi * 8, np.pi * 16]
    for a, b, want in zip(up, down, expected):
        assert_rfc_polygons(a)
        assert_rfc_polygons(b)
        assert area(a) == pytest.approx(want, rel=3e-3) and area(b) == pytest.approx(area(a), rel=1e-12)


def test_band_holds_lower_excludes_upper():
    lon, lat = grid(np.arange(0, 4.01, 1.0), np.arange(0, 3.01, 1.0))
    flat = np.full(lon.shape, 2.0)
    below, above = isobands(flat, lon, lat, [1.0, 2.0, 3.0])
    assert below == []                                     # 1 <= 2 < 2: no
    assert area(above) == pytest.approx(12.0)              # 2 <= 2 < 3: the whole grid
    assert_rfc_polygons(above)


def test_missing_values_are_left_out_of_bands():
    lon, lat = cone_grid(0.05)
    f = lon ** 2 + lat ** 2
    f[:, lon[0] > -0.01] = np.nan                          # the eastern half (from lon 0) is missing
    (band,) = isobands(f, lon, lat, [4.0, 16.0])
    assert_rfc_polygons(band)
    assert points([r for p in band for r in p])[:, 0].max() == pytest.approx(-0.05)
    assert area(band) == pytest.approx(np.pi * 6 - 0.05 * 4, rel=3e-3)


def test_band_not_reached_is_empty_and_levels_must_increase():
    lon, lat = cone_grid(0.5)
    f = lon ** 2 + lat ** 2
    assert isobands(f, lon, lat, [1000.0, 2000.0]) == [[]]
    for bad in ([3.0, 1.0], [1.0, 1.0], [1.0, np.nan]):
        with pytest.raises(InvalidParameter) as info:
            isobands(f, lon, lat, bad)
        assert info.value.parameter == 'levels'


def test_index_bands_cover_the_index_region():
    rows, cols = np.mgrid[0:30, 0:40].astype(float)
    (polygon,) = index_bands(cols, 10.0, 25.0)             # the strip 10 <= col < 25
    assert shapely.Polygon(polygon[0], polygon[1:]).area == pytest.approx(15 * 29)


@pytest.mark.parametrize('lon1', [np.arange(0.05, 360, 0.1), np.arange(170, 190.01, 0.1),
                                  np.mod(np.arange(170, 190.01, 0.1) + 180, 360) - 180])
def test_disk_and_annulus_across_the_antimeridian(lon1):
    lon, lat = grid(lon1, np.arange(-10, 10.01, 0.1))
    dlon = np.where(lon < 0, lon + 360, lon) - 180
    f = dlon ** 2 + (lat - 1) ** 2
    disk, ring = isobands(f, lon, lat, [-1.0, 9.0, 25.0])
    for polygons, want in ((disk, np.pi * 9), (ring, np.pi * 16)):
        assert_rfc_polygons(polygons)
        assert len(polygons) == 2                          # one piece on each side
        assert all(len(p) == 1 for p in polygons)          # the cut opens the annulus's hole
        sides = sorted(np.sign(p[0][:, 0].mean()) for p in polygons)
        assert sides == [-1, 1]
        assert area(polygons) == pytest.approx(want, rel=3e-3)
        for p in polygons:
            assert area([p]) == pytest.approx(want / 2, rel=3e-3)


def test_polar_band_and_cap():
    lon, lat = polar_grid()
    band, cap = isobands(lat, lon, lat, [70.0, 80.0, 95.0])
    assert_rfc_polygons(band)
    assert_rfc_polygons(cap)
    # contours of latitude lie at exactly that latitude: the band is the strip [-180, 180] x [70, 80]
    assert area(band) == pytest.approx(3600.0, rel=1e-6)
    assert area(cap) == pytest.approx(3600.0, rel=1e-6)    # closed through the pole: [-180, 180] x [80, 90]
    union = shapely.union_all([shapely.Polygon(p[0], p[1:]) for p in band])
    assert union.contains(shapely.Point(0, 75)) and union.contains(shapely.Point(-179.5, 71))
    assert not union.contains(shapely.Point(0, 85))


# --- GeoJSON --------------------------------------------------------------------------------------

def test_geojson_geometries_are_plain_lists():
    lon, lat = cone_grid(0.1)
    f = lon ** 2 + lat ** 2
    (lines,) = isolines(f, lon, lat, [4.0])
    (band,) = isobands(f, lon, lat, [1.0, 4.0])
    ml = geojson_multilinestring(lines)
    mp = geojson_multipolygon(band)
    assert ml['type'] == 'MultiLineString' and mp['type'] == 'MultiPolygon'
    assert type(ml['coordinates'][0][0][0]) is float and type(mp['coordinates'][0][0][0][0]) is float
    assert json.loads(json.dumps(ml)) == ml and json.loads(json.dumps(mp)) == mp
    assert shapely.geometry.shape(mp).area == pytest.approx(np.pi * 3, rel=5e-3)
    assert geojson_multilinestring([]) == {'type': 'MultiLineString', 'coordinates': []}
