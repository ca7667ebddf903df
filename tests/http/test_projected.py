"""Projected grids (UTM with geo-proj/spatial conventions; polar stereographic from GDAL _CRS only),
queried in plain longitude/latitude and checked against the lon/lat formula."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import xarray as xr
from pyproj import Geod, Transformer

from helpers import coverages, covjson, get
from kazarr_provider import demo

UTM = '/collections/projected.utm32'
POLAR = '/collections/projected.polar'
GEOD = Geod(ellps='WGS84')
TO_UTM = Transformer.from_crs('OGC:CRS84', 'EPSG:32632', always_xy=True)
TO_POLAR = Transformer.from_crs('OGC:CRS84', 'EPSG:3413', always_xy=True)
UTM_X = 300000.0 + 1000.0 * (np.arange(120) + 0.5)
UTM_Y = 5100000.0 - 1000.0 * (np.arange(100) + 0.5)
POLAR_X = -2000000.0 + 50000.0 * (np.arange(80) + 0.5)
POLAR_Y = 2000000.0 - 50000.0 * (np.arange(80) + 0.5)


def cell_lonlat(transformer, x, y):
    return transformer.transform(x, y, direction='INVERSE')


def true_bbox(transformer, x_edges, y_edges):
    xs, ys = np.linspace(x_edges[0], x_edges[1], 2000), np.linspace(y_edges[0], y_edges[1], 2000)
    ring_x = np.concatenate([xs, np.full(2000, x_edges[1]), xs, np.full(2000, x_edges[0])])
    ring_y = np.concatenate([np.full(2000, y_edges[0]), ys, np.full(2000, y_edges[1]), ys])
    lon, lat = cell_lonlat(transformer, ring_x, ring_y)
    return lon.min(), lat.min(), lon.max(), lat.max()


def test_metadata_crs_and_true_footprint(http):
    doc = http.get(http.base + UTM, params={'f': 'json'}, timeout=30).json()
    assert doc['storageCrs'] == 'http://www.opengis.net/def/crs/EPSG/0/32632'
    assert 'http://www.opengis.net/def/crs/EPSG/0/32632' in doc['crs'] and 'CRS84' in doc['crs']
    details = doc['data_queries']['position']['link']['variables']['crs_details']
    assert [d['crs'] for d in details] == ['CRS84', 'http://www.opengis.net/def/crs/EPSG/0/32632']
    assert doc['kazarr:metadata']['crs']['found_in'] == 'group proj:code'
    one_cell = 1000.0 / 111_000 * 1.5                    # 1 km in degrees, with room for the longitude scale
    expected = true_bbox(TO_UTM, (300000.0, 420000.0), (5000000.0, 5100000.0))
    np.testing.assert_allclose(doc['extent']['spatial']['bbox'][0], expected, atol=one_cell)
    polar = http.get(http.base + POLAR, params={'f': 'json'}, timeout=30).json()
    assert polar['kazarr:metadata']['crs']['found_in'] == 'array _CRS.url'
    west, south, east, north = polar['extent']['spatial']['bbox'][0]
    assert (west, east, north) == (-180.0, 180.0, 90.0)               # the grid holds the pole
    corner_lat = min(cell_lonlat(TO_POLAR, np.array([-2e6, 2e6, 2e6, -2e6]), np.array([-2e6, -2e6, 2e6, 2e6]))[1])
    assert south == pytest.approx(corner_lat, abs=0.5)


def nearest_utm(lon, lat):
    x, y = TO_UTM.transform(lon, lat)
    i, j = int((x - 300000.0) // 1000.0), int((5100000.0 - y) // 1000.0)
    return UTM_X[i], UTM_Y[j]


def test_position_in_lonlat_on_utm(http):
    doc = covjson(get(http, f'{UTM}/position', coords='POINT(7.3 45.6)', datetime='2024-07-02T00:00:00Z'))
    x, y = nearest_utm(7.3, 45.6)
    lon, lat = cell_lonlat(TO_UTM, x, y)
    assert doc['domain']['axes']['x']['values'][0] == pytest.approx(lon, abs=1e-9)
    assert doc['domain']['axes']['y']['values'][0] == pytest.approx(lat, abs=1e-9)
    assert doc['ranges']['b04']['values'][0] == pytest.approx(demo.lonlat_field(lon, lat) + 1.0, abs=1e-4)
    native = covjson(get(http, f'{UTM}/position', coords='POINT(7.3 45.6)', datetime='2024-07-02T00:00:00Z',
                         crs='http://www.opengis.net/def/crs/EPSG/0/32632'))
    assert native['domain']['axes']['x']['values'] == [x] and native['domain']['axes']['y']['values'] == [y]
    assert get(http, f'{UTM}/position', coords='POINT(7.3 45.6)',
               crs='EPSG:32632').headers['Content-Crs'] == '<http://www.opengis.net/def/crs/EPSG/0/32632>'
    assert get(http, f'{UTM}/position', coords='POINT(7.3 45.6)').headers['Content-Crs'] == \
        '<http://www.opengis.net/def/crs/OGC/1.3/CRS84>'
    system = native['domain']['referencing'][0]['system']
    assert system['type'] == 'ProjectedCRS' and system['id'].endswith('/EPSG/0/32632')


def test_point_outside_the_projected_grid_is_no_data(http):
    assert get(http, f'{UTM}/position', coords='POINT(9.5 45.6)').status_code == 204


def test_cube_around_the_pole_is_a_disc(http):
    doc = covjson(get(http, f'{POLAR}/cube', bbox='-180,84,180,90'))
    cov = coverages(doc)[0]
    assert cov['domain']['domainType'] == 'Grid'
    assert cov['domain']['referencing'][0]['system']['id'].endswith('/EPSG/0/3413')
    x = np.array(cov['domain']['axes']['x']['values'])
    y = np.array(cov['domain']['axes']['y']['values'])
    values = np.array([np.nan if v is None else v for v in cov['ranges']['b04']['values']]).reshape(y.size, x.size)
    gx, gy = np.meshgrid(x, y)
    lon, lat = cell_lonlat(TO_POLAR, gx, gy)
    got = ~np.isnan(values)
    assert np.array_equal(got, lat >= 84)
    all_x, all_y = np.meshgrid(POLAR_X, POLAR_Y)
    assert got.sum() == (cell_lonlat(TO_POLAR, all_x, all_y)[1] >= 84).sum()     # none missed outside the window
    np.testing.assert_allclose(values[got], demo.lonlat_field(lon, lat)[got], atol=1e-4)


def test_area_and_radius_on_utm(http):
    polygon = 'POLYGON((7.0 45.3,7.6 45.3,7.3 45.8,7.0 45.3))'
    cov = coverages(covjson(get(http, f'{UTM}/area', coords=polygon, datetime='2024-07-01T00:00:00Z')))[0]
    x = np.array(cov['domain']['axes']['x']['values'])
    y = np.array(cov['domain']['axes']['y']['values'])
    values = np.array([np.nan if v is None else v for v in cov['ranges']['b04']['values']]).reshape(y.size, x.size)
    lon, lat = cell_lonlat(TO_UTM, *np.meshgrid(x, y))
    import shapely
    inside = shapely.contains_xy(shapely.from_wkt(polygon), lon, lat)
    assert np.array_equal(~np.isnan(values), inside)
    np.testing.assert_allclose(values[inside], demo.lonlat_field(lon, lat)[inside], atol=1e-4)
    cov = coverages(covjson(get(http, f'{UTM}/radius', coords='POINT(7.2 45.5)', within='5', datetime='2024-07-01T00:00:00Z',
                                **{'within-units': 'km'})))[0]
    x = np.array(cov['domain']['axes']['x']['values'])
    y = np.array(cov['domain']['axes']['y']['values'])
    values = np.array([np.nan if v is None else v for v in cov['ranges']['b04']['values']]).reshape(y.size, x.size)
    lon, lat = cell_lonlat(TO_UTM, *np.meshgrid(x, y))
    distance = GEOD.inv(np.full(lon.shape, 7.2), np.full(lat.shape, 45.5), lon, lat)[2]
    assert np.array_equal(~np.isnan(values), distance <= 5000)
    assert (distance <= 5000).sum() >= 70                                     # ~ pi * 5^2 cells of 1 km^2


def test_cube_on_utm_in_crs84_is_a_multipoint_of_cell_centres(http):
    doc = covjson(get(http, f'{UTM}/cube', bbox='7.1,45.4,7.2,45.5', datetime='2024-07-01T00:00:00Z', crs='CRS84'))
    assert doc['domain']['domainType'] == 'MultiPoint'
    assert doc['domain']['referencing'][0]['system']['id'] == 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'
    lon, lat = np.array(doc['domain']['axes']['composite']['values']).T
    assert ((7.1 <= lon) & (lon <= 7.2) & (45.4 <= lat) & (lat <= 45.5)).all()
    # every cell whose centre lies in the box, each at its own centre's lon/lat
    all_x, all_y = np.meshgrid(UTM_X, UTM_Y)
    all_lon, all_lat = cell_lonlat(TO_UTM, all_x, all_y)
    assert lon.size == ((all_lon >= 7.1) & (all_lon <= 7.2) & (all_lat >= 45.4) & (all_lat <= 45.5)).sum()
    np.testing.assert_allclose(doc['ranges']['b04']['values'], demo.lonlat_field(lon, lat), atol=1e-4)


def test_csv_and_netcdf_give_cell_longitudes_latitudes(http, tmp_path):
    response = get(http, f'{UTM}/cube', bbox='7.1,45.4,7.2,45.5', datetime='2024-07-01T00:00:00Z', f='CSV')
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows
    for row in rows:
        lon, lat = float(row['longitude']), float(row['latitude'])
        assert 7.1 <= lon <= 7.2 and 45.4 <= lat <= 45.5
        assert float(row['b04 [1]']) == pytest.approx(demo.lonlat_field(lon, lat), abs=1e-4)
    response = get(http, f'{UTM}/cube', bbox='7.1,45.4,7.2,45.5', datetime='2024-07-01T00:00:00Z', f='NetCDF')
    path = tmp_path / 'utm.nc'
    path.write_bytes(response.content)
    ds = xr.open_dataset(path)
    assert ds['b04'].attrs['grid_mapping'] == 'crs' and ds['crs'].attrs['grid_mapping_name'] == 'transverse_mercator'
    assert ds['longitude'].dims == ('y', 'x')
    keep = ~np.isnan(ds['b04'].values[0])
    np.testing.assert_allclose(ds['b04'].values[0][keep],
                               demo.lonlat_field(ds['longitude'].values, ds['latitude'].values)[keep], atol=1e-4)


@pytest.mark.parametrize('path, params, parameter', [
    (f'{UTM}/position', {'coords': 'POINT(7.3 45.6)', 'crs': 'EPSG:3413'}, 'crs'),
    ('/collections/sst_med/position', {'coords': 'POINT(14 40)', 'crs': 'EPSG:32632'}, 'crs'),
])
def test_crs_and_method_refusals(http, path, params, parameter):
    response = get(http, path, **params)
    assert response.status_code == 400 and response.json()['parameter'] == parameter


def test_linear_on_a_projected_grid_is_bilinear_in_its_own_coordinates(http):
    doc = covjson(get(http, f'{UTM}/position', coords='POINT(7.3 45.6)', datetime='2024-07-01T00:00:00Z',
                      interpolation='linear'))
    value = doc['ranges']['b04']['values'][0]
    x, y = TO_UTM.transform(7.3, 45.6)
    i = int(np.searchsorted(UTM_X, x) - 1)
    j = int(np.searchsorted(-UTM_Y, -y) - 1)
    corners_x, corners_y = np.meshgrid(UTM_X[i:i + 2], UTM_Y[j:j + 2])
    corners = demo.lonlat_field(*cell_lonlat(TO_UTM, corners_x, corners_y))
    fx = (x - UTM_X[i]) / 1000.0
    fy = (UTM_Y[j] - y) / 1000.0
    expected = (corners[0, 0] * (1 - fx) * (1 - fy) + corners[0, 1] * fx * (1 - fy) + corners[1, 0] * (1 - fx) * fy
                + corners[1, 1] * fx * fy)
    assert value == pytest.approx(expected, abs=1e-5)
    assert doc['domain']['axes']['x']['values'] == [pytest.approx(7.3)]      # answered where asked


@pytest.mark.parametrize('query, params', [
    ('radius', {'coords': 'POINT(7 45.5)', 'within': '15000', 'within-units': 'km'}),
    ('corridor', {'coords': 'LINESTRING(7 45.5,8 46)', 'corridor-width': '39000', 'width-units': 'km'}),
])
def test_a_region_wider_than_the_projected_grid_holds_all_of_it(http, query, params):
    # its outline lies far outside the UTM zone; every cell of the tile is within it
    cov = coverages(covjson(get(http, f'{UTM}/{query}', datetime='2024-07-01T00:00:00Z', **params)))[0]
    values = np.array([np.nan if v is None else v for v in cov['ranges']['b04']['values']])
    assert values.size == UTM_X.size * UTM_Y.size and not np.isnan(values).any()
    x, y = np.meshgrid(cov['domain']['axes']['x']['values'], cov['domain']['axes']['y']['values'])
    np.testing.assert_allclose(values, demo.lonlat_field(*cell_lonlat(TO_UTM, x, y)).ravel(), atol=1e-4)
