"""What the standards (EDR, HTTP, OpenAPI) say about shapes, status codes and negotiation."""
from __future__ import annotations

import pytest

from conftest import EXPLICIT_MAX_VALUES
from helpers import check, get

ERA5 = '/collections/era5.pressure_levels'
EDR = 'http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/'


def test_conformance_lists_what_is_served(http):
    listed = http.get(http.base + '/conformance', params={'f': 'json'}, timeout=30).json()['conformsTo']
    for name in ('core', 'collections', 'json', 'geojson', 'covjson', 'queries', 'oas30'):
        assert EDR + name in listed
    assert 'http://www.opengis.net/spec/ogcapi-edr-1/1.0/conf/core' in listed
    assert EDR + 'html' not in listed          # f=html answers a viewer page, not the EDR HTML encoding
    page = get(http, f'{ERA5}/position', coords='POINT(10 45)', f='html')
    assert page.status_code == 200 and page.headers['Content-Type'].startswith('text/html')


@pytest.mark.parametrize('path', ['instances', 'instances/latest', 'instances/latest/position'])
def test_instances_are_404_json(http, path):
    response = get(http, f'{ERA5}/{path}', coords='POINT(10 45)')
    assert response.status_code == 404
    assert response.headers['Content-Type'].startswith('application/json')
    assert 'no instances' in response.json()['description']


@pytest.mark.parametrize('accept, media', [
    ('text/csv;q=0.1, application/geo+json;q=0.9', 'application/geo+json'),
    ('application/geo+json;q=0.5, text/csv', 'text/csv'),
    ('application/x-netcdf;q=0, text/csv;q=0.2', 'text/csv'),
    ('text/html, */*;q=0.8', 'application/vnd.cov+json'),
])
def test_accept_honours_quality_values(http, accept, media):
    response = http.get(http.base + f'{ERA5}/position', params={'coords': 'POINT(10 45)', 'z': '850'},
                        headers={'Accept': accept}, timeout=30)
    assert response.status_code == 200 and response.headers['Content-Type'].startswith(media)


def test_a_collections_own_max_values_applies(http):
    # the explicit SST copy is 420 x 160 cells a step: 2 steps exceed its own limit, not the server's
    response = get(http, '/collections/explicit-sst/cube', bbox='-6,30,36,46', datetime='2024-07-01T00:00:00Z/..')
    assert response.status_code == 413
    assert f'{EXPLICIT_MAX_VALUES:,}' in response.json()['description']
    other = get(http, '/collections/sst_med/cube', bbox='-6,30,36,46', datetime='2024-07-01T00:00:00Z')
    assert other.status_code == 200          # the same 420 x 160 cells under the server-wide MAX_VALUES


def test_constraints_on_missing_axes_are_refused(http):
    collections = http.get(http.base + '/collections', params={'f': 'json'}, timeout=30).json()['collections']
    timeless = next(c['id'] for c in collections if 'temporal' not in c.get('extent', {}))
    flat = next(c['id'] for c in collections if c['id'] == 'sst_med')
    doc = http.get(http.base + f'/collections/{timeless}', params={'f': 'json'}, timeout=30).json()
    west, south, east, north = doc['extent']['spatial']['bbox'][0]
    point = f'POINT({(west + east) / 2} {(south + north) / 2})'
    response = get(http, f'/collections/{timeless}/position', coords=point, datetime='2024-01-01T00:00:00Z')
    assert response.status_code == 400 and response.json()['parameter'] == 'datetime'
    response = get(http, f'/collections/{flat}/position', coords='POINT(14 40)', z='850')
    assert response.status_code == 400 and response.json()['parameter'] == 'z'
    response = get(http, f'/collections/{flat}/cube', bbox='10,35,0,12,37,10')
    assert response.status_code == 400 and response.json()['parameter'] == 'bbox'


def test_rbf_epsilon_only_where_it_means_something(http):
    refused = get(http, f'{ERA5}/position', coords='POINT(11.3 44.2)', z='850', interpolation='rbf',
                  **{'interpolation-params': 'kernel:thin_plate_spline,epsilon:2'})
    assert refused.status_code == 400 and refused.json()['parameter'] == 'interpolation-params'
    taken = get(http, f'{ERA5}/position', coords='POINT(11.3 44.2)', z='850', interpolation='rbf',
                **{'interpolation-params': 'kernel:gaussian,epsilon:0.5'})
    assert taken.status_code == 200


def test_openapi_describes_every_parameter_we_read(http):
    document = http.get(http.base + '/openapi', params={'f': 'json'}, timeout=60).json()
    paths = document['paths']

    def names(path, method='get'):
        return {p['name'] for p in paths[path][method]['parameters']}
    assert {'coords', 'within', 'within-units', 'interpolation', 'interpolation-params', 'time-interpolation',
            'datetime', 'z', 'parameter-name', 'crs', 'f'} <= names(f'{ERA5}/radius')
    assert {'corridor-width', 'width-units', 'corridor-height', 'height-units'} <= names(f'{ERA5}/corridor')
    assert {'bbox', 'z'} <= names(f'{ERA5}/cube')
    assert 'interpolation' not in names(f'{ERA5}/cube')
    assert 'number' in names('/collections/ensemble/position')          # a custom dimension
    f = next(p for p in paths[f'{ERA5}/position']['get']['parameters'] if p['name'] == 'f')
    assert f['schema']['enum'] == ['CoverageJSON', 'GeoJSON', 'CSV', 'NetCDF']
    body = paths[f'{ERA5}/position']['post']['requestBody']['content']['application/json']['schema']
    assert body['required'] == ['coords'] and 'coords' in body['properties']
    assert set(paths[f'{ERA5}/cube']['get']['responses']) >= {'200', '204', '400', '404', '413'}
    assert not [p for p in paths if p.startswith(f'{ERA5}/instances')]
    # only what a collection can take: sst_med has no vertical axis and no overview levels
    assert 'z' not in names('/collections/sst_med/position') and 'datetime' in names('/collections/sst_med/position')
    assert 'resolution-limit' not in names('/collections/sst_med/cube')
    assert 'resolution-limit' in names('/collections/projected.utm_multiscales/cube')


def test_a_parameter_given_twice_is_refused(http):
    response = http.get(http.base + f'{ERA5}/position?coords=POINT(10%2045)&z=850&z=500', timeout=30)
    assert response.status_code == 400 and response.json()['parameter'] == 'z'


def test_deeply_nested_json_body_is_a_400(http):
    body = '{"coords": ' + '[' * 100000 + ']' * 100000 + '}'
    response = http.post(http.base + f'{ERA5}/position', data=body, headers={'Content-Type': 'application/json'},
                         timeout=60)
    assert response.status_code == 400 and response.json()['parameter'] == 'body'


def test_post_to_an_unknown_collection_is_404_json(http):
    response = http.post(http.base + '/collections/nope/position', json={'coords': 'POINT(1 1)'}, timeout=30)
    assert response.status_code == 404 and response.json()['parameter'] == 'collectionId'


def test_idw_with_a_large_power_tends_to_the_nearest_cell(http):
    from kazarr_provider import demo
    doc = get(http, f'{ERA5}/position', coords='POINT(11 44)', z='850', datetime='2024-01-01T00:00:00Z',
              interpolation='idw', **{'interpolation-params': 'power:400', 'parameter-name': 't'}).json()
    assert doc['ranges']['t']['values'][0] == pytest.approx(demo.era5_temperature(10.0, 45.0, 850, 0), abs=1e-3)


def test_repeated_points_and_vertices_stay_valid_coveragejson(http):
    doc = check(get(http, f'{ERA5}/position', coords='MULTIPOINT((10 45),(-350 45),(20 50))', z='850',
                    datetime='2024-01-01T00:00:00Z', **{'parameter-name': 't'}).json())
    assert doc['domain']['axes']['composite']['values'] == [[10.0, 45.0, 850.0], [20.0, 50.0, 850.0]]
    path = check(get(http, f'{ERA5}/trajectory', coords='LINESTRING(0 0,5 5,0 0,360 0)', z='850',
                     datetime='2024-01-01T00:00:00Z', **{'parameter-name': 't'}).json())
    assert [v[1:] for v in path['domain']['axes']['composite']['values']] == [[0.0, 0.0], [5.0, 5.0]]


def test_a_long_get_still_fits_and_longer_ones_go_by_post(http):
    import requests
    points = ','.join(f'({10 + i * 0.001:.3f} 45)' for i in range(250))
    params = {'coords': f'MULTIPOINT({points})', 'z': '850', 'datetime': '2024-01-01T00:00:00Z'}
    url = requests.Request('GET', http.base + f'{ERA5}/position', params=params).prepare().url
    assert 4094 < len(url) < 8000                        # over gunicorn's default request line, under ours
    response = http.get(url, timeout=60)
    assert response.status_code == 200, response.text[:300]
    many = ','.join(f'({10 + i * 0.001:.3f} 45)' for i in range(2000))
    posted = http.post(http.base + f'{ERA5}/position', json={'coords': f'MULTIPOINT({many})', 'z': '850',
                                                            'datetime': '2024-01-01T00:00:00Z'}, timeout=60)
    assert posted.status_code == 200


def test_vertices_differing_only_in_an_axis_a_parameter_lacks_meet_in_one_tuple(http):
    doc = check(get(http, f'{ERA5}/trajectory', coords='LINESTRING Z(10 45 850,10 45 500,20 50 500)',
                    datetime='2024-01-01T00:00:00Z', **{'parameter-name': 'z_sfc,t'}).json())
    by_name = {next(iter(c['ranges'])): c for c in doc['coverages']}
    assert len(by_name['t']['domain']['axes']['composite']['values']) == 3        # t has the level axis
    assert [v[-2:] for v in by_name['z_sfc']['domain']['axes']['composite']['values']] == [[10.0, 45.0],
                                                                                           [20.0, 50.0]]


def test_radius_with_interpolation_on_a_projected_grid_answers_in_crs84(http):
    response = get(http, '/collections/projected.utm32/radius', coords='POINT(7.3 45.6)', within='5',
                   datetime='2024-07-01T00:00:00Z', interpolation='linear', **{'within-units': 'km'})
    assert response.status_code == 200 and 'CRS84' in response.headers['Content-Crs']
    doc = response.json()
    assert doc['domain']['axes']['x']['values'] == [pytest.approx(7.3)]
