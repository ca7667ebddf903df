"""A curvilinear (rotated-pole, 2-D lon/lat only) grid queried in longitude/latitude."""
from __future__ import annotations

import numpy as np
import pytest
import shapely

from helpers import check, get
from kazarr_provider import demo

OCEAN = '/collections/projected.ocean'
LON, LAT = demo.rotated_lonlat()


def great_circle_nearest(lon, lat):
    lo, la, lo0, la0 = map(np.radians, (LON, LAT, lon, lat))
    cos_d = np.sin(la) * np.sin(la0) + np.cos(la) * np.cos(la0) * np.cos(lo - lo0)
    return np.unravel_index(np.argmax(cos_d), LON.shape)


@pytest.mark.parametrize('cell', [(30, 40), (3, 5), (55, 77)])
def test_position_nearest_cell_by_great_circle(http, cell):
    lon, lat = LON[cell] + 0.1, LAT[cell] - 0.1            # near a cell, edge cells included
    response = get(http, f'{OCEAN}/position', coords=f'POINT({lon} {lat})')
    assert response.status_code == 200, response.text
    doc = check(response.json())
    j, i = great_circle_nearest(lon, lat)
    assert doc['domain']['axes']['x']['values'][0] == pytest.approx(LON[j, i], abs=1e-9)
    assert doc['domain']['axes']['y']['values'][0] == pytest.approx(LAT[j, i], abs=1e-9)
    assert doc['ranges']['thetao']['values'][0] == pytest.approx(demo.lonlat_field(LON[j, i], LAT[j, i]), abs=1e-4)


def test_outside_the_curvilinear_grid_is_no_data(http):
    assert get(http, f'{OCEAN}/position', coords='POINT(120 -10)').status_code == 204


def test_extent_and_area_as_multipoint(http):
    doc = http.get(http.base + OCEAN, params={'f': 'json'}, timeout=30).json()
    np.testing.assert_allclose(doc['extent']['spatial']['bbox'][0], [LON.min(), LAT.min(), LON.max(), LAT.max()],
                               atol=0.5)
    polygon = 'POLYGON((0 45,8 45,8 52,0 52,0 45))'
    response = get(http, f'{OCEAN}/area', coords=polygon)
    answer = check(response.json())
    assert answer['domain']['domainType'] == 'MultiPoint'
    got = {(round(x, 6), round(y, 6)) for x, y in answer['domain']['axes']['composite']['values']}
    inside = shapely.contains_xy(shapely.from_wkt(polygon), LON, LAT)
    assert got == {(round(x, 6), round(y, 6)) for x, y in zip(LON[inside], LAT[inside])}
    values = np.array(answer['ranges']['thetao']['values'])
    x, y = np.array(answer['domain']['axes']['composite']['values']).T
    np.testing.assert_allclose(values, demo.lonlat_field(x, y), atol=1e-4)


def test_linear_is_inverse_bilinear_in_the_containing_quad(http):
    j, i = 20, 30
    # a point inside quad (j, i)-(j+1, i+1): the image of (u, v) = (0.3, 0.6) under the quad's bilinear map
    u, v = 0.3, 0.6
    corners_lon = np.array([LON[j, i], LON[j, i + 1], LON[j + 1, i], LON[j + 1, i + 1]])
    corners_lat = np.array([LAT[j, i], LAT[j, i + 1], LAT[j + 1, i], LAT[j + 1, i + 1]])
    w = np.array([(1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v])
    lon, lat = corners_lon @ w, corners_lat @ w
    doc = check(get(http, f'{OCEAN}/position', coords=f'POINT({lon} {lat})', interpolation='linear').json())
    corners = demo.lonlat_field(corners_lon, corners_lat)
    value = doc['ranges']['thetao']['values'][0]
    # the local tangent plane is not the lon/lat plane: the weights agree to a small fraction
    assert value == pytest.approx(corners @ w, abs=2e-3 * np.ptp(corners) + 1e-6)
    assert corners.min() <= value <= corners.max()


def test_curvilinear_refuses_interpolation_it_does_not_do(http):
    response = get(http, f'{OCEAN}/position', coords='POINT(10 50)', interpolation='cubic')
    assert response.status_code == 400 and response.json()['parameter'] == 'interpolation'
