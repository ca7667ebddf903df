"""EDR over HTTP against a real server: values checked against the analytic formulas."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import COVJSON, check, coverages, covjson, get
from kazarr_provider import demo

ERA5_IDS = ['era5.pressure_levels', 'variants.era5_v2_plain', 'variants.era5_v3_plain',
            'variants.era5_v2_consolidated']


def era5_cell(lon, lat):
    """Nearest cell centre on the 2.5 degree ERA5-like grid, longitude in 0..360."""
    return (round(lon / 2.5) * 2.5) % 360.0, round(lat / 2.5) * 2.5


@pytest.mark.parametrize('collection', ERA5_IDS)
def test_position_point_matches_formula_in_every_store_format(http, collection):
    doc = covjson(get(http, f'/collections/{collection}/position', coords='POINT(10.3 44.1)',
                      datetime='2024-01-01T06:00:00Z', z='850', **{'parameter-name': 't'}))
    assert doc['type'] == 'Coverage' and doc['domain']['domainType'] == 'Point'
    axes = doc['domain']['axes']
    assert axes['x']['values'] == [10.0] and axes['y']['values'] == [45.0]
    assert axes['t']['values'] == ['2024-01-01T06:00:00Z'] and axes['z']['values'] == [850.0]
    expected = demo.era5_temperature(10.0, 45.0, 850.0, 6.0)
    assert doc['ranges']['t']['values'][0] == pytest.approx(expected, abs=1e-3)
    assert doc['ranges']['t']['shape'] == [1, 1] and doc['ranges']['t']['axisNames'] == ['y', 'x']   # QGIS


def test_negative_longitude_on_0_360_data(http):
    doc = covjson(get(http, '/collections/era5.pressure_levels/position', coords='POINT(-10.2 -30.9)',
                      datetime='2024-01-01T18:00:00Z', z='500', **{'parameter-name': 'u'}))
    lon, lat = era5_cell(-10.2, -30.9)
    assert doc['domain']['axes']['x']['values'] == [lon - 360.0]
    assert doc['domain']['axes']['y']['values'] == [lat]
    assert doc['ranges']['u']['values'][0] == pytest.approx(demo.era5_wind(lon, lat, 500.0, 18.0), abs=1e-4)


def test_0_360_query_on_minus180_180_data_and_custom_dimension(http):
    doc = covjson(get(http, '/collections/ensemble/position', coords='POINT(352 11)',
                      datetime='2024-01-01T12:00:00Z', number='1'))
    assert doc['domain']['domainType'] == 'Point'
    assert doc['domain']['axes']['x']['values'] == [-7.5] and doc['domain']['axes']['y']['values'] == [12.5]
    assert doc['kazarr:dimensions'] == {'number': 1}
    assert doc['ranges']['tp']['values'][0] == pytest.approx(demo.ensemble_precip(-7.5, 12.5, 1, 12.0), abs=1e-4)


def test_custom_dimension_unfiltered_gives_one_coverage_per_member(http):
    doc = covjson(get(http, '/collections/ensemble/position', coords='POINT(-7.5 12.5)',
                      datetime='2024-01-01T00:00:00Z'))
    assert doc['type'] == 'CoverageCollection'
    members = {c['kazarr:dimensions']['number']: c['ranges']['tp']['values'][0] for c in doc['coverages']}
    assert sorted(members) == [0, 1, 2]
    for member, value in members.items():
        assert value == pytest.approx(demo.ensemble_precip(-7.5, 12.5, member, 0.0), abs=1e-4)


def test_packed_int16_time_series_and_land_mask(http):
    doc = covjson(get(http, '/collections/sst_med/position', coords='POINT(14.03 40.02)'))
    assert doc['domain']['domainType'] == 'PointSeries'
    assert doc['domain']['axes']['t']['values'] == ['2024-07-01T00:00:00Z', '2024-07-02T00:00:00Z',
                                                     '2024-07-03T00:00:00Z']
    x, y = doc['domain']['axes']['x']['values'][0], doc['domain']['axes']['y']['values'][0]
    assert (x, y) == (14.05, 40.05)          # the stored coordinates, exactly
    values = doc['ranges']['analysed_sst']['values']
    expected = demo.sst(14.05, 40.05, np.arange(3.0))
    np.testing.assert_allclose(values, expected, atol=6e-4)   # packed with scale 0.001
    land = covjson(get(http, '/collections/sst_med/position', coords='POINT(15 38)'))
    assert land['ranges']['analysed_sst']['values'] == [None, None, None]


def test_point_outside_extent_gets_no_data_not_the_edge(http):
    response = get(http, '/collections/sst_med/position', coords='POINT(50 10)')
    assert response.status_code == 204 and response.content == b''
    assert 'outside' in response.headers['Kazarr-No-Data-Reason']
    # just beyond the last cell edge (36.0) is outside too
    assert get(http, '/collections/sst_med/position', coords='POINT(36.04 40)').status_code == 204


@pytest.mark.parametrize('instant, step', [('2024-01-01T08:00:00Z', '2024-01-01T06:00:00Z'),
                                           ('2024-01-01T10:00:00+00:00', '2024-01-01T12:00:00Z'),
                                           ('2024-01-01T17:00:00Z', '2024-01-01T18:00:00Z')])
def test_instant_between_steps_answers_nearest_step_and_says_so(http, instant, step):
    doc = covjson(get(http, '/collections/era5.pressure_levels/position', coords='POINT(0 0)', z='1000',
                      datetime=instant, **{'parameter-name': 't'}))
    assert doc['domain']['axes']['t']['values'] == [step]
    hours = (np.datetime64(step.rstrip('Z')) - np.datetime64('2024-01-01T00:00')) / np.timedelta64(1, 'h')
    assert doc['ranges']['t']['values'][0] == pytest.approx(demo.era5_temperature(0, 0, 1000, hours), abs=1e-3)


@pytest.mark.parametrize('datetime_', ['2024-01-01T18:00:01Z', '2023-12-31T23:59:59Z', '2025-01-01/2025-02-01',
                                       '../2023-12-31T00:00:00Z'])
def test_time_outside_extent_is_no_data_never_clamped(http, datetime_):
    response = get(http, '/collections/era5.pressure_levels/position', coords='POINT(0 0)', datetime=datetime_)
    assert response.status_code == 204


@pytest.mark.parametrize('datetime_, expected', [
    ('2024-01-01T05:00:00Z/2024-01-01T13:00:00Z', [6, 12]),
    ('../2024-01-01T06:00:00Z', [0, 6]),
    ('2024-01-01T12:00:00Z/..', [12, 18]),
])
def test_datetime_intervals(http, datetime_, expected):
    doc = covjson(get(http, '/collections/era5.pressure_levels/position', coords='POINT(20 60)', z='700',
                      datetime=datetime_, **{'parameter-name': 't'}))
    assert doc['domain']['domainType'] == 'PointSeries'
    assert len(doc['domain']['axes']['t']['values']) == len(expected)
    np.testing.assert_allclose(doc['ranges']['t']['values'],
                               demo.era5_temperature(20.0, 60.0, 700.0, np.array(expected, float)), atol=1e-3)


@pytest.mark.parametrize('z, levels', [('850', [850]), ('500/850', [850, 700, 500]), ('300,1000', [1000, 300]),
                                       ('R3/1000/-150', [1000, 850, 700]), ('840', [850])])
def test_z_forms_give_a_vertical_profile_in_axis_order(http, z, levels):
    doc = covjson(get(http, '/collections/era5.pressure_levels/position', coords='POINT(100 -20)', z=z,
                      datetime='2024-01-01T00:00:00Z', **{'parameter-name': 't'}))
    cov = coverages(doc)[0]
    assert cov['domain']['axes']['z']['values'] == [float(v) for v in levels]
    np.testing.assert_allclose(cov['ranges']['t']['values'],
                               demo.era5_temperature(100.0, -20.0, np.array(levels, float), 0.0), atol=1e-3)
    assert cov['domain']['domainType'] == ('Point' if len(levels) == 1 else 'VerticalProfile')


def test_z_outside_levels_is_no_data(http):
    response = get(http, '/collections/era5.pressure_levels/position', coords='POINT(0 0)', z='100')
    assert response.status_code == 204


def test_all_times_and_levels_is_one_profile_per_time(http):
    doc = covjson(get(http, '/collections/era5.pressure_levels/position', coords='POINT(0 0)',
                      **{'parameter-name': 't'}))
    assert doc['type'] == 'CoverageCollection' and doc['domainType'] == 'VerticalProfile'
    assert len(doc['coverages']) == 4
    for k, cov in enumerate(doc['coverages']):
        np.testing.assert_allclose(cov['ranges']['t']['values'],
                                   demo.era5_temperature(0.0, 0.0, demo.ERA5_LEVELS, 6.0 * k), atol=1e-3)


def test_parameters_with_different_dimensions_come_as_a_collection(http):
    doc = covjson(get(http, '/collections/era5.pressure_levels/position', coords='POINT(30 10)', z='850',
                      datetime='2024-01-01T00:00:00Z', **{'parameter-name': 't,z_sfc,quality'}))
    assert doc['type'] == 'CoverageCollection'
    ranges = {}
    for cov in doc['coverages']:
        ranges.update({k: v['values'][0] for k, v in cov['ranges'].items()})
    assert ranges['z_sfc'] == pytest.approx(demo.era5_orography(30.0, 10.0), abs=1e-2)
    assert ranges['quality'] == 1.0
    assert 'unit' not in doc['parameters']['quality']      # no units attribute: still published


def test_multipoint(http):
    doc = covjson(get(http, '/collections/era5.pressure_levels/position',
                      coords='MULTIPOINT((10 45),(-100 -30),(10.4 45.2))', z='850',
                      **{'parameter-name': 't'}))
    assert doc['domain']['domainType'] == 'MultiPointSeries'
    tuples = doc['domain']['axes']['composite']['values']
    # one answer per requested point, in request order, where it was asked; the cells that answered beside
    assert tuples == [[10.0, 45.0, 850.0], [-100.0, -30.0, 850.0], [10.4, 45.2, 850.0]]
    assert doc['kazarr:cells'] == [[10.0, 45.0], [-100.0, -30.0], [10.0, 45.0]]
    values = np.array(doc['ranges']['t']['values']).reshape(4, 3)
    assert doc['ranges']['t']['axisNames'] == ['t', 'composite']
    for k in range(4):
        assert values[k, 0] == pytest.approx(demo.era5_temperature(10, 45, 850, 6.0 * k), abs=1e-3)
        assert values[k, 1] == pytest.approx(demo.era5_temperature(260, -30, 850, 6.0 * k), abs=1e-3)
        assert values[k, 2] == values[k, 0]


def test_multipoint_keeps_points_outside_as_missing(http):
    doc = covjson(get(http, '/collections/sst_med/position', coords='MULTIPOINT((100 0),(14.05 40.05))',
                      datetime='2024-07-02T00:00:00Z'))
    assert doc['domain']['domainType'] == 'MultiPoint'
    assert doc['domain']['axes']['composite']['values'] == [[100.0, 0.0], [14.05, 40.05]]
    assert doc['kazarr:cells'][0] == [None, None]
    outside, inside = doc['ranges']['analysed_sst']['values']
    assert outside is None
    assert inside == pytest.approx(demo.sst(14.05, 40.05, 1.0), abs=6e-4)
    nothing = get(http, '/collections/sst_med/position', coords='MULTIPOINT((100 0),(-100 0))')
    assert nothing.status_code == 204


def _grid_values(cov, name):
    rng = cov['ranges'][name]
    return np.array([np.nan if v is None else v for v in rng['values']], float).reshape(rng['shape']), \
        rng['axisNames']


def test_cube_values_in_declared_axis_order(http):
    doc = covjson(get(http, '/collections/sst_med/cube', bbox='10,35,12.02,36.5', datetime='2024-07-03T00:00:00Z'))
    assert doc['domain']['domainType'] == 'Grid'
    axes = doc['domain']['axes']
    x, y = np.array(axes['x']['values']), np.array(axes['y']['values'])
    assert x[0] == pytest.approx(10.05) and x[-1] == pytest.approx(11.95) and x.size == 20
    assert y[0] == pytest.approx(35.05) and y[-1] == pytest.approx(36.45) and y.size == 15
    values, names = _grid_values(doc, 'analysed_sst')
    assert names == ['t', 'y', 'x'] and values.shape == (1, 15, 20)
    expected = demo.sst(x[None, :], y[:, None], 2.0)
    np.testing.assert_allclose(values[0], expected, atol=6e-4)


def test_cube_across_the_antimeridian_with_6_number_bbox(http):
    doc = covjson(get(http, '/collections/era5.pressure_levels/cube', bbox='170,-5,500,-170,5,850',
                      datetime='2024-01-01T12:00:00Z', **{'parameter-name': 't'}))
    axes = doc['domain']['axes']
    assert axes['x']['values'] == [170.0 + 2.5 * i for i in range(9)]      # unwrapped, monotonic
    assert axes['y']['values'] == [5.0, 2.5, 0.0, -2.5, -5.0]              # storage order (descending)
    assert axes['z']['values'] == [850.0, 700.0, 500.0]
    values, names = _grid_values(doc, 't')
    assert names == ['t', 'z', 'y', 'x'] and values.shape == (1, 3, 5, 9)
    lon, lat = np.array(axes['x']['values']), np.array(axes['y']['values'])
    for k, level in enumerate([850.0, 700.0, 500.0]):
        np.testing.assert_allclose(values[0, k], demo.era5_temperature(lon[None, :], lat[:, None], level, 12.0),
                                   atol=1e-3)


def test_area_polygon_selects_cell_centres_inside(http):
    triangle = 'POLYGON((0 40,10 40,0 50,0 40))'
    doc = covjson(get(http, '/collections/era5.pressure_levels/area', coords=triangle, z='850',
                      datetime='2024-01-01T00:00:00Z', **{'parameter-name': 't'}))
    axes = doc['domain']['axes']
    lon, lat = np.array(axes['x']['values']), np.array(axes['y']['values'])
    values, _ = _grid_values(doc, 't')
    grid_lon, grid_lat = np.meshgrid(lon, lat)
    inside = (grid_lon >= 0) & (grid_lat >= 40) & (grid_lon + grid_lat <= 50)
    assert np.array_equal(~np.isnan(values[0, 0]), inside)
    np.testing.assert_allclose(values[0, 0][inside],
                               demo.era5_temperature(grid_lon, grid_lat, 850.0, 0.0)[inside], atol=1e-3)


def test_area_multipolygon(http):
    coords = 'MULTIPOLYGON(((10 35,11 35,11 36,10 36,10 35)),((20 40,21 40,21 41,20 41,20 40)))'
    doc = covjson(get(http, '/collections/sst_med/area', coords=coords, datetime='2024-07-01T00:00:00Z'))
    values, _ = _grid_values(doc, 'analysed_sst')
    assert np.count_nonzero(~np.isnan(values)) == 200      # 10 x 10 cells in each square


def test_post_json_and_form_bodies(http):
    body = {'coords': 'POINT(10 45)', 'z': '850', 'datetime': '2024-01-01T06:00:00Z', 'parameter-name': 't'}
    for kwargs in ({'json': body}, {'data': body}):
        doc = covjson(http.post(http.base + '/collections/era5.pressure_levels/position', timeout=30, **kwargs))
        assert doc['ranges']['t']['values'][0] == pytest.approx(demo.era5_temperature(10, 45, 850, 6), abs=1e-3)


def test_format_negotiation(http):
    path = '/collections/sst_med/position'
    for extra in ({'f': 'CoverageJSON'}, {'f': 'covjson'}, {}):
        response = get(http, path, coords='POINT(14 40)', **extra)
        assert response.headers['Content-Type'].startswith(COVJSON)
    response = http.get(http.base + path, params={'coords': 'POINT(14 40)'},
                        headers={'Accept': 'application/prs.coverage+json'}, timeout=30)
    assert response.status_code == 200 and response.headers['Content-Type'].startswith(COVJSON)


def test_explicit_config_resource(http):
    doc = covjson(get(http, '/collections/explicit-sst/position', coords='POINT(14.05 40.05)',
                      datetime='2024-07-01T00:00:00Z'))
    assert doc['ranges']['analysed_sst']['values'][0] == pytest.approx(demo.sst(14.05, 40.05, 0.0), abs=6e-4)


def test_owslib_edr_client(server):
    from owslib.ogcapi.edr import EnvironmentalDataRetrieval
    client = EnvironmentalDataRetrieval(server.url, timeout=30)
    ids = [c['id'] for c in client.collections()['collections']]
    assert 'era5.pressure_levels' in ids
    doc = client.query_data('era5.pressure_levels', 'position', coords='POINT(10 45)',
                            datetime_='2024-01-01T06:00:00Z', z='850', parameter_names=['t'])
    check(doc)
    assert doc['ranges']['t']['values'][0] == pytest.approx(demo.era5_temperature(10, 45, 850, 6), abs=1e-3)
    cube = client.query_data('sst_med', 'cube', bbox=[10, 35, 10.5, 35.5], datetime_='2024-07-01T00:00:00Z')
    check(cube)
    assert cube['ranges']['analysed_sst']['shape'] == [1, 5, 5]
