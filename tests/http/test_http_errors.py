"""Every bad request gets a 4xx with a JSON body naming the parameter; never a 500 (over HTTP: a sample of
the table that tests/test_params_errors.py runs whole against the parser)."""
from __future__ import annotations

import pytest

from bad_requests import BAD_REQUESTS, ERA5
from conftest import MAX_VALUES


@pytest.mark.parametrize('path, params, parameter', BAD_REQUESTS[::6] + [
    case for case in BAD_REQUESTS if case[2] in ('f', 'number')])
def test_bad_parameter_is_400_naming_it(http, path, params, parameter):
    response = http.get(http.base + path, params=params, timeout=30)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body['parameter'] == parameter
    assert parameter in body['description']
    assert 'Traceback' not in response.text


def test_unknown_collection_is_404(http):
    response = http.get(http.base + '/collections/nope/position', params={'coords': 'POINT(0 0)'}, timeout=30)
    assert response.status_code == 404
    assert response.json()['description']
    assert http.get(http.base + '/collections/nope', timeout=30).status_code == 404


def test_path_traversal_is_not_a_collection(http):
    response = http.get(http.base + '/collections/..%2F..%2Fetc/position', params={'coords': 'POINT(0 0)'},
                        timeout=30)
    assert response.status_code == 404


def test_too_large_is_413_with_the_limit(http):
    response = http.get(http.base + f'{ERA5}/cube', params={'bbox': '-180,-90,180,90'}, timeout=60)
    assert response.status_code == 413
    assert f'{MAX_VALUES:,}' in response.json()['description']
