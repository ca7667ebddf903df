"""Every bad request gets a 4xx with a JSON body naming the parameter; never a 500."""
from __future__ import annotations

import pytest

from conftest import MAX_VALUES

ERA5 = '/collections/era5.pressure_levels'


@pytest.mark.parametrize('path, params, parameter', [
    (f'{ERA5}/position', {}, 'coords'),
    (f'{ERA5}/position', {'coords': ''}, 'coords'),
    (f'{ERA5}/position', {'coords': 'POINT(10)'}, 'coords'),
    (f'{ERA5}/position', {'coords': 'PIONT(10 45)'}, 'coords'),
    (f'{ERA5}/position', {'coords': 'POINT EMPTY'}, 'coords'),
    (f'{ERA5}/position', {'coords': 'POLYGON((0 0,1 0,1 1,0 0))'}, 'coords'),
    (f'{ERA5}/position', {'coords': 'POINT(10 95)'}, 'coords'),
    (f'{ERA5}/position', {'coords': 'POINT Z(10 45 850)'}, 'coords'),
    (f'{ERA5}/area', {'coords': 'POINT(10 45)'}, 'coords'),
    (f'{ERA5}/area', {}, 'coords'),
    (f'{ERA5}/cube', {}, 'bbox'),
    (f'{ERA5}/cube', {'bbox': '1,2,3'}, 'bbox'),
    (f'{ERA5}/cube', {'bbox': '1,2,3,x'}, 'bbox'),
    (f'{ERA5}/cube', {'bbox': '0,50,10,40'}, 'bbox'),
    (f'{ERA5}/cube', {'bbox': '0,40,500,10,50,850', 'z': '850'}, 'z'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'datetime': 'yesterday'}, 'datetime'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'datetime': '2024-13-01T00:00:00Z'}, 'datetime'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'datetime': '../..'}, 'datetime'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'datetime': '2024-01-02/2024-01-01'}, 'datetime'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'z': 'high'}, 'z'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'z': '1/2/3'}, 'z'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'parameter-name': 'nope'}, 'parameter-name'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'parameter-name': 't,nope'}, 'parameter-name'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'f': 'xml'}, 'f'),
    ('/collections/ensemble/position', {'coords': 'POINT(10 45)', 'number': 'one'}, 'number'),
    (f'{ERA5}/radius', {'coords': 'POINT(10 45)'}, 'within'),
    (f'{ERA5}/radius', {'coords': 'POINT(10 45)', 'within': '-5', 'within-units': 'km'}, 'within'),
    (f'{ERA5}/radius', {'coords': 'POINT(10 45)', 'within': '50'}, 'within-units'),
    (f'{ERA5}/radius', {'coords': 'POINT(10 45)', 'within': '50', 'within-units': 'parsec'}, 'within-units'),
    (f'{ERA5}/radius', {'coords': 'LINESTRING(0 0,1 1)', 'within': '50', 'within-units': 'km'}, 'coords'),
    (f'{ERA5}/trajectory', {'coords': 'POINT(10 45)'}, 'coords'),
    (f'{ERA5}/trajectory', {'coords': 'LINESTRING Z(0 40 850,10 45 500)', 'z': '850'}, 'z'),
    (f'{ERA5}/trajectory', {'coords': 'LINESTRING M(0 40 1704067200,10 45 1704070800)',
                            'datetime': '2024-01-01T00:00:00Z'}, 'datetime'),
    (f'{ERA5}/corridor', {'coords': 'LINESTRING(0 40,10 45)', 'width-units': 'km'}, 'corridor-width'),
    (f'{ERA5}/corridor', {'coords': 'LINESTRING(0 40,10 45)', 'corridor-width': '100'}, 'width-units'),
    (f'{ERA5}/corridor', {'coords': 'LINESTRING(0 40,10 45)', 'corridor-width': '100', 'width-units': 'km',
                          'corridor-height': 'tall'}, 'corridor-height'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'interpolation': 'magic'}, 'interpolation'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'interpolation': 'linear',
                          'interpolation-params': 'power:2'}, 'interpolation-params'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'interpolation': 'idw',
                          'interpolation-params': 'power:x'}, 'interpolation-params'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'interpolation': 'rbf',
                          'interpolation-params': 'kernel:banana'}, 'interpolation-params'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'interpolation': 'rbf',
                          'interpolation-params': 'neighbors:100000'}, 'interpolation-params'),
    (f'{ERA5}/cube', {'bbox': '0,40,10,50', 'interpolation': 'linear'}, 'interpolation'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'time-interpolation': 'cubic'}, 'time-interpolation'),
    (f'{ERA5}/trajectory', {'coords': 'LINESTRING M(0 0 3e11,1 1 1704067200)', 'z': '850'}, 'coords'),
    (f'{ERA5}/trajectory', {'coords': 'LINESTRING M(0 0 -1e12,1 1 1704067200)', 'z': '850'}, 'coords'),
    (f'{ERA5}/position', {'coords': 'POINT(1e308 45)'}, 'coords'),
    (f'{ERA5}/area', {'coords': 'POLYGON((1000 35,1001 35,1001 36,1000 35))'}, 'coords'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'interpolation': 'rbf',
                          'interpolation-params': 'kernel:quintic,neighbors:3'}, 'interpolation-params'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'interpolation': 'rbf',
                          'interpolation-params': 'kernel:gaussian,epsilon:0'}, 'interpolation-params'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'interpolation': 'idw',
                          'interpolation-params': 'power:inf'}, 'interpolation-params'),
    (f'{ERA5}/position', {'coords': 'POINT(10 45)', 'interpolation': 'idw',
                          'interpolation-params': 'power:nan'}, 'interpolation-params'),
    ('/collections/ensemble/position', {'coords': 'POINT(10 45)', 'number': '1.5'}, 'number'),
    (f'{ERA5}/radius', {'coords': 'POINT(10 45)', 'within': '1e306', 'within-units': 'km'}, 'within'),
    (f'{ERA5}/radius', {'coords': 'POINT(10 45)', 'within': '5e-324', 'within-units': 'km'}, 'within'),
    (f'{ERA5}/corridor', {'coords': 'LINESTRING(0 40,10 45)', 'corridor-width': '1e306', 'width-units': 'mi'},
     'corridor-width'),
])
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
