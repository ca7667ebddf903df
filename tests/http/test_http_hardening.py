"""Methods, negotiation, body limits and error bodies: what routing through declared views guarantees."""
from __future__ import annotations

import pytest
import requests

SST = '/collections/sst_med'
POINT = {'coords': 'POINT(14 40)'}


@pytest.mark.parametrize('method, path, allowed', [
    ('DELETE', f'{SST}/position', {'GET', 'HEAD', 'POST'}),
    ('PUT', f'{SST}/position', {'GET', 'HEAD', 'POST'}),
    ('TRACE', f'{SST}/position', {'GET', 'HEAD', 'POST'}),
    ('OPTIONS', f'{SST}/position', {'GET', 'HEAD', 'POST'}),
    ('TRACE', '/health', {'GET', 'HEAD'}),
    ('DELETE', '/health', {'GET', 'HEAD'}),
    ('GET', '/catalogue/refresh', {'POST'}),
    ('OPTIONS', '/collections', {'GET', 'HEAD'}),
])
def test_methods_a_route_lacks_are_405_json_with_allow(http, method, path, allowed):
    response = http.request(method, http.base + path, params=POINT if 'position' in path else None, timeout=30)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers['Allow'].split(',')} == allowed
    if method != 'HEAD':
        body = response.json()
        assert body['code'] == 'MethodNotAllowed' and method in body['description']


def test_unknown_paths_are_404_json(http):
    for path in ('/nothing/here', f'{SST}/position/extra', '/collections/nope/position'):
        response = http.get(http.base + path, params=POINT, timeout=30)
        assert response.status_code == 404, path
        assert response.headers['Content-Type'].startswith('application/json')
        assert response.json()['description']


def test_204_has_no_content_type(http):
    response = http.get(f'{http.base}{SST}/position', params={'coords': 'POINT(100 10)'}, timeout=30)
    assert response.status_code == 204
    assert 'Content-Type' not in response.headers and response.content == b''
    assert response.headers['Kazarr-No-Data-Reason']


@pytest.mark.parametrize('accept, status, media', [
    ('image/png', 406, 'application/json'),
    ('image/png, text/xml', 406, 'application/json'),
    ('image/png, */*;q=0.1', 200, 'application/vnd.cov+json'),
    ('text/csv', 200, 'text/csv'),
])
def test_accept_that_matches_no_format_is_406(http, accept, status, media):
    response = http.get(f'{http.base}{SST}/position', params=POINT, headers={'Accept': accept}, timeout=30)
    assert response.status_code == status
    assert response.headers['Content-Type'].startswith(media)
    if status == 406:
        assert response.json()['code'] == 'NotAcceptable' and 'image/png' in response.json()['description']
    # f decides even when Accept names nothing we produce
    assert http.get(f'{http.base}{SST}/position', params={**POINT, 'f': 'csv'}, headers={'Accept': accept},
                    timeout=30).status_code == 200


def test_parameter_in_both_query_string_and_body_is_400(http):
    response = http.post(f'{http.base}{SST}/position', params=POINT, json={'coords': 'POINT(15 41)'}, timeout=30)
    assert response.status_code == 400 and response.json()['parameter'] == 'coords'
    assert 'both' in response.json()['description']


@pytest.mark.parametrize('value, shown', [(None, 'null'), (True, 'bool'), ({'a': 1}, 'dict')])
def test_non_string_json_values_are_named_not_shown_as_python(http, value, shown):
    response = http.post(f'{http.base}{SST}/position', json={'coords': value}, timeout=30)
    assert response.status_code == 400 and response.json()['parameter'] == 'coords'
    assert shown in response.json()['description'] and 'None' not in response.json()['description']


def test_json_numbers_and_lists_are_read_like_url_text(http):
    response = http.post(f'{http.base}/collections/era5.pressure_levels/position',
                         json={'coords': 'POINT(10 45)', 'z': [850, 500], 'parameter-name': ['t']}, timeout=30)
    assert response.status_code == 200
    document = response.json()
    coverage = document if document['type'] == 'Coverage' else document['coverages'][0]
    assert sorted(coverage['domain']['axes']['z']['values']) == [500, 850]


def test_body_over_the_limit_is_413_stating_it(http):
    body = b'{"coords": "' + b'1' * (4 * 1024 * 1024 + 10) + b'"}'
    try:
        response = http.post(f'{http.base}{SST}/position', data=body,
                             headers={'Content-Type': 'application/json'}, timeout=60)
    except requests.ConnectionError:
        pytest.fail('the server dropped the connection instead of answering 413')
    assert response.status_code == 413
    assert '4,194,304' in response.json()['description']


def test_too_many_points_is_413_before_any_work(http):
    points = ','.join(f'({10 + i % 50 * 0.1:.1f} {40 + i // 50 * 0.01:.2f})' for i in range(10_001))
    response = http.post(f'{http.base}{SST}/radius', timeout=60,
                         json={'coords': f'MULTIPOINT({points})', 'within': '10', 'within-units': 'km'})
    assert response.status_code == 413
    assert '10,000' in response.json()['description'] and response.json()['parameter'] == 'coords'


def test_conformance_and_collections_documents_are_served_once_computed(http):
    first = http.get(http.base + f'{SST}', timeout=30)
    second = http.get(http.base + f'{SST}', params={'f': 'json'}, timeout=30)
    assert first.content == second.content
    assert first.json()['data_queries']['cube']['link']['variables']['height_units'] == []
    classes = http.get(http.base + '/conformance', timeout=30).json()['conformsTo']
    assert 'http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/covjson' in classes
    assert len(classes) == len(set(classes))


def test_cors_when_configured_answers_preflights(datasets_dir, explicit_store, tmp_path):
    from conftest import start_server
    server = start_server(tmp_path, {'DATASETS_PATH': str(datasets_dir), 'BUCKET_NAME': '',
                                     'CORS_ORIGINS': 'https://maps.example'}, str(explicit_store), 'local',
                          datasets_dir, None)
    try:
        preflight = requests.options(f'{server.url}{SST}/position', timeout=30, headers={
            'Origin': 'https://maps.example', 'Access-Control-Request-Method': 'POST',
            'Access-Control-Request-Headers': 'content-type'})
        assert preflight.status_code == 200
        assert preflight.headers['Access-Control-Allow-Origin'] == 'https://maps.example'
        assert 'POST' in preflight.headers['Access-Control-Allow-Methods']
        assert preflight.headers['Access-Control-Allow-Headers'] == 'content-type'
        answer = requests.get(f'{server.url}{SST}/position', params=POINT, timeout=30,
                              headers={'Origin': 'https://maps.example'})
        assert answer.status_code == 200 and answer.headers['Access-Control-Allow-Origin'] == 'https://maps.example'
        assert 'Content-Crs' in answer.headers['Access-Control-Expose-Headers']
        other = requests.get(f'{server.url}{SST}/position', params=POINT, timeout=30,
                             headers={'Origin': 'https://elsewhere.example'})
        assert 'Access-Control-Allow-Origin' not in other.headers
    finally:
        server.stop()


def test_what_gunicorn_refuses_before_the_application_is_json_too(http):
    long_line = http.get(f'{http.base}{SST}/position', params={'coords': 'POINT(14 40)', 'pad': 'x' * 9000},
                         timeout=30)
    assert long_line.status_code == 414
    assert long_line.headers['Content-Type'] == 'application/json'
    assert long_line.json()['code'] == 'URITooLong' and long_line.json()['description']
    many_headers = http.get(http.base + '/health', headers={f'X-Pad-{i}': 'x' for i in range(120)}, timeout=30)
    assert many_headers.status_code == 431
    assert many_headers.json()['code'] == 'RequestHeaderFieldsTooLarge'
