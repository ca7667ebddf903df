"""radius, trajectory, corridor, interpolation and output formats, against the analytic fields."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import xarray as xr
from pyproj import Geod

from helpers import check, coverages, covjson, get
from kazarr_provider import demo

ERA5 = '/collections/era5.pressure_levels'
POLY = '/collections/polynomial'
GEOD = Geod(ellps='WGS84')
T06 = '2024-01-01T06:00:00Z'


def grid_cells(cov, name):
    """(lon, lat, value) of every non-null cell of a Grid coverage (first t/z slice)."""
    rng = cov['ranges'][name]
    values = np.array([np.nan if v is None else v for v in rng['values']], float).reshape(rng['shape'])
    values = values.reshape((-1,) + values.shape[-2:])[0]
    lon = np.array(cov['domain']['axes']['x']['values'])
    lat = np.array(cov['domain']['axes']['y']['values'])
    grid_lon, grid_lat = np.meshgrid(lon, lat)
    keep = ~np.isnan(values)
    return grid_lon[keep], grid_lat[keep], values[keep]


def era5_cells_within(lon0, lat0, metres):
    lon, lat = np.meshgrid(np.arange(144) * 2.5, np.linspace(90, -90, 73))
    _a, _b, d = GEOD.inv(np.full(lon.shape, lon0), np.full(lat.shape, lat0), lon, lat)
    return {(round(((x + 180) % 360) - 180, 6), round(y, 6)) for x, y in zip(lon[d <= metres], lat[d <= metres])}


@pytest.mark.parametrize('within, units', [('400', 'km'), ('400000', 'm'), (str(400 / 1.609344), 'mi')])
def test_radius_selects_cells_by_geodesic_distance(http, within, units):
    doc = covjson(get(http, f'{ERA5}/radius', coords='POINT(10 45)', within=within, z='850', datetime=T06,
                      **{'within-units': units, 'parameter-name': 't'}))
    lon, lat, values = grid_cells(coverages(doc)[0], 't')
    got = {(round(x, 6), round(y, 6)) for x, y in zip(lon, lat)}
    assert got == era5_cells_within(10, 45, 400_000 * (1 - 1e-9))
    np.testing.assert_allclose(values, demo.era5_temperature(lon, lat, 850, 6), atol=1e-3)


def test_radius_units_advertised(http):
    doc = http.get(http.base + ERA5, params={'f': 'json'}, timeout=30).json()
    variables = doc['data_queries']['radius']['link']['variables']
    assert {'km', 'm', 'mi'} <= set(variables['within_units'])
    assert 'width_units' in doc['data_queries']['corridor']['link']['variables']


def test_trajectory_values_at_vertices(http):
    doc = covjson(get(http, f'{ERA5}/trajectory', coords='LINESTRING(0 40,5 42.6,10 45)', z='500', datetime=T06,
                      **{'parameter-name': 't'}))
    assert doc['domain']['domainType'] == 'Trajectory'
    composite = doc['domain']['axes']['composite']
    assert composite['coordinates'] == ['t', 'x', 'y']
    assert composite['values'] == [[T06, 0.0, 40.0], [T06, 5.0, 42.6], [T06, 10.0, 45.0]]   # the path as asked
    assert doc['domain']['axes']['z']['values'] == [500.0]
    expected = demo.era5_temperature(np.array([0, 5, 10.0]), np.array([40, 42.5, 45]), 500, 6)   # nearest cells
    np.testing.assert_allclose(doc['ranges']['t']['values'], expected, atol=1e-3)


def test_trajectory_zm_each_vertex_at_its_own_time_and_level_linear_in_time(http):
    start = 1704067200        # 2024-01-01T00:00:00Z
    coords = f'LINESTRING ZM(0 40 850 {start + 3600}, 5 42.5 500 {start + 4 * 3600}, 10 45 300 {start + 17 * 3600})'
    doc = covjson(get(http, f'{ERA5}/trajectory', coords=coords,
                      **{'parameter-name': 't', 'time-interpolation': 'linear'}))
    composite = doc['domain']['axes']['composite']
    assert composite['coordinates'] == ['t', 'x', 'y', 'z']
    assert [row[0] for row in composite['values']] == ['2024-01-01T01:00:00Z', '2024-01-01T04:00:00Z',
                                                       '2024-01-01T17:00:00Z']
    expected = demo.era5_temperature(np.array([0, 5, 10.0]), np.array([40, 42.5, 45]), np.array([850, 500, 300.0]),
                                     np.array([1, 4, 17.0]))
    np.testing.assert_allclose(doc['ranges']['t']['values'], expected, atol=1e-3)   # t is linear in time: exact


def test_trajectory_m_with_nearest_time(http):
    start = 1704067200
    doc = covjson(get(http, f'{ERA5}/trajectory', coords=f'LINESTRING M(0 40 {start + 3600}, 10 45 {start + 16 * 3600})',
                      z='850', **{'parameter-name': 't'}))
    np.testing.assert_allclose(doc['ranges']['t']['values'],
                               demo.era5_temperature(np.array([0, 10.0]), np.array([40, 45.0]), 850, np.array([0, 18.0])),
                               atol=1e-3)


def _distance_to_path(lon, lat, path):
    samples = []
    for (x0, y0), (x1, y1) in zip(path[:-1], path[1:]):
        inner = GEOD.npts(x0, y0, x1, y1, 400)
        samples += [(x0, y0)] + inner + [(x1, y1)]
    sx, sy = np.array(samples).T
    d = GEOD.inv(np.repeat(lon[:, None], sx.size, 1), np.repeat(lat[:, None], sx.size, 1),
                 np.tile(sx, (lon.size, 1)), np.tile(sy, (lon.size, 1)))[2]
    return d.min(axis=1)


def test_corridor_cells_lie_within_half_the_width(http):
    path = [(0.0, 40.0), (10.0, 45.0), (20.0, 45.0)]
    coords = 'LINESTRING(' + ','.join(f'{x} {y}' for x, y in path) + ')'
    doc = covjson(get(http, f'{ERA5}/corridor', coords=coords, z='850', datetime=T06,
                      **{'corridor-width': '500', 'width-units': 'km', 'parameter-name': 't'}))
    lon, lat, values = grid_cells(coverages(doc)[0], 't')
    distance = _distance_to_path(lon, lat, path)
    assert np.all(distance <= 250_000 * 1.005)
    np.testing.assert_allclose(values, demo.era5_temperature(lon, lat, 850, 6), atol=1e-3)
    # and every cell well inside the corridor is there
    all_lon, all_lat = np.meshgrid(np.arange(-10, 31, 2.5), np.arange(30, 56, 2.5))
    near = _distance_to_path(all_lon.ravel(), all_lat.ravel(), path) < 250_000 * 0.995
    got = {(round(x, 6), round(y, 6)) for x, y in zip(lon, lat)}
    assert {(round(x, 6), round(y, 6)) for x, y in zip(all_lon.ravel()[near], all_lat.ravel()[near])} <= got


def test_corridor_height_selects_levels(http):
    doc = covjson(get(http, f'{ERA5}/corridor', coords='LINESTRING Z(0 40 700,10 45 700)', datetime=T06,
                      **{'corridor-width': '300', 'width-units': 'km', 'corridor-height': '350',
                         'height-units': 'hPa', 'parameter-name': 't'}))
    assert coverages(doc)[0]['domain']['axes']['z']['values'] == [850.0, 700.0]


POINTS = [(-12.3, 7.7), (0.5, -0.5), (13.25, 11.9), (21.9, -14.1)]


@pytest.mark.parametrize('method, params, name, formula', [
    ('linear', '', 'bilinear', lambda x, y: demo.bilinear_field(x, y, 6.0)),
    ('cubic', '', 'cubic', demo.cubic_field),
    ('rbf', 'kernel:thin_plate_spline,neighbors:9', 'bilinear', None),
])
def test_interpolation_exact_where_theory_says(http, method, params, name, formula):
    coords = 'MULTIPOINT(' + ','.join(f'({x} {y})' for x, y in POINTS) + ')'
    extra = {'datetime': T06} if name == 'bilinear' else {}
    doc = covjson(get(http, f'{POLY}/position', coords=coords, interpolation=method,
                      **{'interpolation-params': params, 'parameter-name': name}, **extra))
    tuples = doc['domain']['axes']['composite']['values']
    assert [tuple(t[:2]) for t in tuples] == POINTS                   # answered where asked
    values = np.array(doc['ranges'][name]['values'], float)
    x, y = np.array(POINTS).T
    if formula is None:
        # thin-plate splines reproduce linear functions exactly; the bilinear term is small over a cell
        formula = lambda x, y: demo.bilinear_field(x, y, 6.0)
        np.testing.assert_allclose(values, formula(x, y), atol=0.05)
    else:
        np.testing.assert_allclose(values, formula(x, y), atol=1e-9)


def test_idw_exact_at_a_centre_and_bounded_by_neighbours(http):
    doc = covjson(get(http, f'{POLY}/position', coords='MULTIPOINT((3 4),(3.4 4.3))', interpolation='idw',
                      datetime=T06, **{'interpolation-params': 'power:2,radius:200', 'parameter-name': 'bilinear'}))
    at_centre, between = doc['ranges']['bilinear']['values']
    assert at_centre == pytest.approx(demo.bilinear_field(3, 4, 6.0), abs=1e-9)
    neighbourhood = demo.bilinear_field(*np.meshgrid(np.arange(1, 6.0), np.arange(2, 7.0)), 6.0)
    assert neighbourhood.min() <= between <= neighbourhood.max()


def test_trajectory_without_time_is_an_ordered_multipoint(http):
    # CoverageJSON's Trajectory needs t in every tuple: a time-less field answers a MultiPoint in path order
    doc = covjson(get(http, f'{ERA5}/trajectory', coords='LINESTRING(10 45,15 50,0 40)',
                      **{'parameter-name': 'z_sfc'}))
    assert doc['domain']['domainType'] == 'MultiPoint'
    assert doc['domain']['axes']['composite']['values'] == [[10.0, 45.0], [15.0, 50.0], [0.0, 40.0]]
    expected = demo.era5_orography(np.array([10, 15, 0.0]), np.array([45, 50, 40.0]))   # cell centres
    np.testing.assert_allclose(doc['ranges']['z_sfc']['values'], expected, rtol=1e-6)
    mixed = covjson(get(http, f'{ERA5}/trajectory', coords='LINESTRING(10 45,15 50)', z='850', datetime=T06))
    assert {c['domain']['domainType'] for c in coverages(mixed)} == {'Trajectory', 'MultiPoint'}


def test_cubic_next_to_missing_values_is_null_not_an_error(http):
    # (13.47 38.02) lies just off the masked island (centre 15 38, radius 1.5): its 4x4 stencil holds land
    near = 'POINT(13.47 38.02)'
    far = 'POINT(5.02 40.03)'
    for coords, expect_null in ((near, True), (far, False)):
        doc = covjson(get(http, '/collections/sst_med/position', coords=coords, interpolation='cubic',
                          datetime='2024-07-01T00:00:00Z'))
        value = doc['ranges']['analysed_sst']['values'][0]
        if expect_null:
            assert value is None
        else:
            assert value == pytest.approx(demo.sst(5.02, 40.03, 0), abs=2e-3)   # packing step 0.001


def test_linear_on_era5_stays_within_the_cell_corners(http):
    doc = covjson(get(http, f'{ERA5}/position', coords='POINT(11.3 44.2)', z='850', datetime=T06,
                      interpolation='linear', **{'parameter-name': 't'}))
    value = doc['ranges']['t']['values'][0]
    corners = demo.era5_temperature(np.array([10, 12.5, 10, 12.5]), np.array([42.5, 42.5, 45, 45]), 850, 6)
    assert corners.min() <= value <= corners.max()
    assert value == pytest.approx(demo.era5_temperature(11.3, 44.2, 850, 6), abs=0.02)   # h^2/8 |f''| bound


def test_linear_time_interpolation_is_exact_between_steps(http):
    doc = covjson(get(http, f'{POLY}/position', coords='POINT(3 4)', datetime='2024-01-01T07:30:00Z',
                      **{'time-interpolation': 'linear', 'parameter-name': 'bilinear'}))
    assert doc['domain']['axes']['t']['values'] == ['2024-01-01T07:30:00Z']
    assert doc['ranges']['bilinear']['values'][0] == pytest.approx(demo.bilinear_field(3, 4, 7.5), abs=1e-9)
    outside = get(http, f'{POLY}/position', coords='POINT(3 4)', datetime='2024-01-01T12:00:01Z',
                  **{'time-interpolation': 'linear'})
    assert outside.status_code == 204


def test_linear_interpolation_refuses_to_extrapolate(http):
    doc = covjson(get(http, f'{POLY}/position', coords='POINT(30.3 0)', interpolation='linear', datetime=T06,
                      **{'parameter-name': 'bilinear'}))
    assert doc['ranges']['bilinear']['values'] == [None]        # inside the last cell, beyond its centre


QUERIES = [
    ('position', {'coords': 'POINT(10 45)', 'z': '850'}),
    ('position', {'coords': 'MULTIPOINT((10 45),(20 50))', 'z': '850', 'datetime': T06}),
    ('radius', {'coords': 'POINT(10 45)', 'within': '300', 'within-units': 'km', 'z': '850', 'datetime': T06}),
    ('area', {'coords': 'POLYGON((0 40,10 40,10 50,0 50,0 40))', 'z': '850', 'datetime': T06}),
    ('cube', {'bbox': '0,40,10,50', 'z': '850', 'datetime': T06}),
    ('trajectory', {'coords': 'LINESTRING(0 40,10 45)', 'z': '850', 'datetime': T06}),
    ('corridor', {'coords': 'LINESTRING(0 40,10 45)', 'corridor-width': '300', 'width-units': 'km', 'z': '850',
                  'datetime': T06}),
]


@pytest.mark.parametrize('query, params', QUERIES, ids=[q for q, _ in QUERIES])
def test_csv_rows_match_the_formula(http, query, params):
    response = get(http, f'{ERA5}/{query}', f='CSV', **params, **{'parameter-name': 't'})
    assert response.status_code == 200 and response.headers['Content-Type'].startswith('text/csv')
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows and set(rows[0]) == {'longitude', 'latitude', 'z [hPa]', 'datetime', 't [K]'}
    for row in rows:
        hours = (np.datetime64(row['datetime'].rstrip('Z')) - np.datetime64('2024-01-01T00:00')) / np.timedelta64(1, 'h')
        expected = demo.era5_temperature(float(row['longitude']), float(row['latitude']), float(row['z [hPa]']), hours)
        assert float(row['t [K]']) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize('query, params', QUERIES, ids=[q for q, _ in QUERIES])
def test_geojson_features_match_the_formula(http, query, params):
    response = http.get(http.base + f'{ERA5}/{query}', params={**params, 'parameter-name': 't'},
                        headers={'Accept': 'application/geo+json'}, timeout=60)
    assert response.status_code == 200 and response.headers['Content-Type'].startswith('application/geo+json')
    collection = response.json()
    assert collection['type'] == 'FeatureCollection' and collection['features']
    assert collection['parameters']['t']['units'] == 'K'
    for feature in collection['features']:
        x, y = feature['geometry']['coordinates']
        props = feature['properties']
        times = props['datetime'] if isinstance(props['datetime'], list) else [props['datetime']]
        values = props['t'] if isinstance(props['t'], list) else [props['t']]
        hours = [(np.datetime64(t.rstrip('Z')) - np.datetime64('2024-01-01T00:00')) / np.timedelta64(1, 'h')
                 for t in times]
        np.testing.assert_allclose(values, demo.era5_temperature(x, y, props['z'], np.array(hours)), atol=1e-3)


@pytest.mark.parametrize('query, params', QUERIES, ids=[q for q, _ in QUERIES])
def test_netcdf_is_cf_and_matches_the_formula(http, query, params, tmp_path):
    response = get(http, f'{ERA5}/{query}', f='NetCDF', **params, **{'parameter-name': 't'})
    assert response.status_code == 200 and response.headers['Content-Type'].startswith('application/x-netcdf')
    path = tmp_path / 'answer.nc'
    path.write_bytes(response.content)
    ds = xr.open_dataset(path)
    assert ds.attrs['Conventions'].startswith('CF')
    assert ds['t'].attrs['units'] == 'K' and ds['t'].attrs['standard_name'] == 'air_temperature'
    assert ds['longitude'].attrs['units'] == 'degrees_east'
    lon, lat = xr.broadcast(ds['longitude'], ds['latitude'])
    hours = (ds['time'] - np.datetime64('2024-01-01T00:00')) / np.timedelta64(1, 'h')
    expected = demo.era5_temperature(ds['longitude'], ds['latitude'], ds['level'], hours)   # ERA5's own vertical name
    got, expected = xr.broadcast(ds['t'], expected)
    keep = ~np.isnan(got.values)
    assert keep.any()
    np.testing.assert_allclose(got.values[keep], expected.values[keep], atol=1e-3)


def test_formats_advertised_per_query(http):
    doc = http.get(http.base + ERA5, params={'f': 'json'}, timeout=30).json()
    assert set(doc['output_formats']) == {'CoverageJSON', 'GeoJSON', 'CSV', 'NetCDF'}
    for query in ('position', 'radius', 'area', 'cube', 'trajectory', 'corridor'):
        assert set(doc['data_queries'][query]['link']['variables']['output_formats']) == set(doc['output_formats'])


def test_post_long_trajectory(http):
    vertices = ','.join(f'{x / 10} {40 + x / 100}' for x in range(0, 300))   # many vertices per cell
    response = http.post(http.base + f'{ERA5}/trajectory', timeout=60,
                         json={'coords': f'LINESTRING({vertices})', 'z': '850', 'datetime': T06,
                               'parameter-name': 't'})
    doc = covjson(response)
    assert len(doc['domain']['axes']['composite']['values']) == 300


def test_owslib_trajectory(server):
    from owslib.ogcapi.edr import EnvironmentalDataRetrieval
    client = EnvironmentalDataRetrieval(server.url, timeout=30)
    doc = client.query_data('era5.pressure_levels', 'trajectory', coords='LINESTRING(0 40,10 45)',
                            datetime_=T06, z='850', parameter_names=['t'])
    check(doc)
    np.testing.assert_allclose(doc['ranges']['t']['values'],
                               demo.era5_temperature(np.array([0, 10.0]), np.array([40, 45.0]), 850, 6), atol=1e-3)


def test_radius_with_linear_time_interpolation(http):
    doc = covjson(get(http, f'{POLY}/radius', coords='POINT(3 4)', within='120', datetime='2024-01-01T07:30:00Z',
                      **{'within-units': 'km', 'time-interpolation': 'linear', 'parameter-name': 'bilinear'}))
    cov = coverages(doc)[0]
    assert cov['domain']['axes']['t']['values'] == ['2024-01-01T07:30:00Z']
    lon, lat, values = grid_cells(cov, 'bilinear')
    assert lon.size >= 5
    np.testing.assert_allclose(values, demo.bilinear_field(lon, lat, 7.5), atol=1e-9)


@pytest.mark.parametrize('method, params, formula', [
    ('linear', '', lambda x, y: demo.bilinear_field(x, y, 6.0)),
    ('idw', 'power:2', None),
])
def test_radius_with_interpolation_answers_each_centre(http, method, params, formula):
    centres = [(3.3, 4.6), (-7.25, 10.5)]
    coords = 'MULTIPOINT(' + ','.join(f'({x} {y})' for x, y in centres) + ')'
    doc = covjson(get(http, f'{POLY}/radius', coords=coords, within='200', datetime=T06, interpolation=method,
                      **{'within-units': 'km', 'interpolation-params': params, 'parameter-name': 'bilinear'}))
    assert doc['domain']['domainType'] == 'MultiPoint'
    assert [tuple(t[:2]) for t in doc['domain']['axes']['composite']['values']] == centres
    values = np.array(doc['ranges']['bilinear']['values'], float)
    x, y = np.array(centres).T
    if formula is not None:
        np.testing.assert_allclose(values, formula(x, y), atol=1e-9)       # exact for a bilinear field
        return
    # idw over exactly the cells within 200 km (geodesic): the weights computed here from the formula
    lon, lat = np.meshgrid(np.arange(-30.0, 30.5), np.arange(20.0, -20.5, -1.0))
    for (cx, cy), got in zip(centres, values):
        _, _, d = GEOD.inv(np.full(lon.shape, cx), np.full(lat.shape, cy), lon, lat)
        inside = d <= 200_000
        weights = 1.0 / (d[inside] / 1000.0) ** 2
        expected = (weights * demo.bilinear_field(lon[inside], lat[inside], 6.0)).sum() / weights.sum()
        assert got == pytest.approx(expected, rel=1e-3)


def test_radius_linear_needs_its_stencil_inside_the_circle(http):
    # a 20 km circle around a point 50 km from every cell centre holds none of its 4 corners
    doc = covjson(get(http, f'{POLY}/radius', coords='POINT(3.5 4.5)', within='20', datetime=T06,
                      interpolation='linear', **{'within-units': 'km', 'parameter-name': 'bilinear'}))
    assert doc['ranges']['bilinear']['values'] == [None]


def test_each_radius_grid_names_its_centre(http):
    doc = covjson(get(http, f'{ERA5}/radius', coords='MULTIPOINT((10 45),(100 -20))', within='300', z='850',
                      datetime=T06, **{'within-units': 'km', 'parameter-name': 't'}))
    grids = coverages(doc)
    assert [g['kazarr:centre'] for g in grids] == [[10.0, 45.0], [100.0, -20.0]]
    for grid, (x0, y0) in zip(grids, [(10, 45), (100, -20)]):
        lon, lat, _ = grid_cells(grid, 't')
        _, _, d = GEOD.inv(np.full(lon.shape, x0), np.full(lat.shape, y0), lon, lat)
        assert (d <= 300_000).all()                       # every cell of a grid lies in its own circle
