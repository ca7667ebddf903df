"""GeoZarr conventions over HTTP (local and S3): a CRS declared only on the multiscale root, grids placed
only by their affine transform, a CRS given by CF parameters only; answers checked in lon/lat against the
formula at the cell centres the conventions define (computed here with pyproj)."""
from __future__ import annotations

import numpy as np
import pytest
from pyproj import Transformer

from helpers import check, get
from kazarr_provider import demo

TO_UTM = Transformer.from_crs('OGC:CRS84', 'EPSG:32632', always_xy=True)
TO_3413 = Transformer.from_crs('OGC:CRS84', 'EPSG:3413', always_xy=True)


def centre(transformer, lon, lat, x0, y0, cell):
    """The centre (lon, lat) of the cell of a north-up grid (corner x0, y0) holding (lon, lat)."""
    x, y = transformer.transform(lon, lat)
    cx = x0 + cell * (np.floor((x - x0) / cell) + 0.5)
    cy = y0 - cell * (np.floor((y0 - y) / cell) + 0.5)
    return transformer.transform(cx, cy, direction='INVERSE')


def test_multiscale_root_crs_without_coordinates(http):
    doc = http.get(http.base + '/collections/geozarr.eopf_like', params={'f': 'json'}, timeout=30).json()
    assert doc['storageCrs'] == 'http://www.opengis.net/def/crs/EPSG/0/32632'
    cube = get(http, '/collections/geozarr.eopf_like/cube', bbox='7.0,45.3,7.5,45.6', crs='CRS84',
               **{'resolution-limit': '20'})
    assert cube.status_code == 200, cube.text
    assert cube.headers['Kazarr-Level'] == '2'                 # 2 km: ~20 cells across the 39 km box
    points = check(cube.json())
    lon, lat = np.array(points['domain']['axes']['composite']['values']).T
    x, y = TO_UTM.transform(lon, lat)
    # every answered point is the centre of a 2 km cell of the layout's transform
    np.testing.assert_allclose((x - 300000.0) / 2000.0 % 1, 0.5, atol=1e-6)
    np.testing.assert_allclose((5100000.0 - y) / 2000.0 % 1, 0.5, atol=1e-6)
    np.testing.assert_allclose(points['ranges']['b04']['values'], demo.lonlat_field(lon, lat), atol=1e-4)


@pytest.mark.parametrize('lon, lat', [(7.3, 45.6), (7.9, 45.5)])
def test_transform_only_grid_position(http, lon, lat):
    doc = check(get(http, '/collections/geozarr.transform_only/position', coords=f'POINT({lon} {lat})',
                    datetime='2024-07-02T00:00:00Z').json())
    clon, clat = centre(TO_UTM, lon, lat, 300000.0, 5100000.0, 1000.0)
    assert doc['domain']['axes']['x']['values'][0] == pytest.approx(clon, abs=1e-9)
    assert doc['domain']['axes']['y']['values'][0] == pytest.approx(clat, abs=1e-9)
    assert doc['ranges']['b04']['values'][0] == pytest.approx(demo.lonlat_field(clon, clat) + 1.0, abs=1e-4)


def test_cf_parameter_crs_is_named_and_accepted(http):
    doc = http.get(http.base + '/collections/geozarr.polar_cf', params={'f': 'json'}, timeout=30).json()
    assert doc['storageCrs'] == 'http://www.opengis.net/def/crs/EPSG/0/3413'
    point = check(get(http, '/collections/geozarr.polar_cf/position', coords='POINT(-40 80)', crs='EPSG:3413').json())
    x, y = point['domain']['axes']['x']['values'][0], point['domain']['axes']['y']['values'][0]
    lon, lat = TO_3413.transform(x, y, direction='INVERSE')
    assert (x + 2000000.0) / 50000.0 % 1 == pytest.approx(0.5) and (2000000.0 - y) / 50000.0 % 1 == pytest.approx(0.5)
    assert point['ranges']['b04']['values'][0] == pytest.approx(demo.lonlat_field(lon, lat), abs=1e-4)
