"""A UGRID triangle mesh (1-based connectivity, data on nodes and faces) queried in lon/lat."""
from __future__ import annotations

import numpy as np
import pytest
import shapely

from covjson_check import check, coverages
from kazarr_provider import demo

MESH = '/collections/projected.mesh'
LON, LAT = (a.ravel() for a in demo.mesh_nodes())


def get(http, path, **params):
    return http.get(http.base + path, params=params, timeout=60)


def nearest_node(lon, lat):
    lo, la, lo0, la0 = map(np.radians, (LON, LAT, lon, lat))
    return int(np.argmax(np.sin(la) * np.sin(la0) + np.cos(la) * np.cos(la0) * np.cos(lo - lo0)))


def test_mesh_metadata(http):
    doc = http.get(http.base + MESH, params={'f': 'json'}, timeout=30).json()
    assert set(doc['parameter_names']) == {'zeta', 'lin', 'depth'}          # the connectivity is not data
    np.testing.assert_allclose(doc['extent']['spatial']['bbox'][0], [-10, 43, 0, 48], atol=1e-9)


@pytest.mark.parametrize('lon, lat', [(-5.1, 45.2), (-9.93, 43.05), (-0.4, 47.7)])
def test_position_nearest_node(http, lon, lat):
    doc = check(get(http, f'{MESH}/position', coords=f'POINT({lon} {lat})', datetime='2024-07-02T00:00:00Z',
                    **{'parameter-name': 'zeta'}).json())
    k = nearest_node(lon, lat)
    assert doc['domain']['axes']['x']['values'][0] == pytest.approx(LON[k], abs=1e-9)
    assert doc['ranges']['zeta']['values'][0] == pytest.approx(demo.lonlat_field(LON[k], LAT[k]) + 1, abs=1e-9)


def test_linear_is_barycentric_and_exact_for_linear_fields(http):
    points = [(-5.1, 45.2), (-2.37, 44.81), (-9.6, 47.3)]
    coords = 'MULTIPOINT(' + ','.join(f'({x} {y})' for x, y in points) + ')'
    doc = check(get(http, f'{MESH}/position', coords=coords, interpolation='linear',
                    **{'parameter-name': 'lin'}).json())
    x, y = np.array(points).T
    np.testing.assert_allclose(doc['ranges']['lin']['values'], demo.linear_field(x, y), atol=1e-9)
    refused = get(http, f'{MESH}/position', coords='POINT(-5 45)', interpolation='linear',
                  **{'parameter-name': 'depth'})
    assert refused.status_code == 400 and refused.json()['parameter'] == 'interpolation'


def test_area_selects_faces_and_nodes_inside(http):
    polygon = 'POLYGON((-6 44,-5 44,-5 45.3,-6 45,-6 44))'
    doc = check(get(http, f'{MESH}/area', coords=polygon, datetime='2024-07-01T00:00:00Z').json())
    shape = shapely.from_wkt(polygon)
    for cov in coverages(doc):
        assert cov['domain']['domainType'] == 'MultiPoint'
        xy = np.array(cov['domain']['axes']['composite']['values'])
        assert shapely.contains_xy(shape, xy[:, 0], xy[:, 1]).all()
        name = next(iter(cov['ranges']))
        if name == 'zeta':
            inside = shapely.contains_xy(shape, LON, LAT)
            assert len(xy) == inside.sum()
            np.testing.assert_allclose(cov['ranges'][name]['values'], demo.lonlat_field(xy[:, 0], xy[:, 1]),
                                       atol=1e-9)
        if name == 'depth':
            np.testing.assert_allclose(cov['ranges'][name]['values'], demo.lonlat_field(xy[:, 0], xy[:, 1]),
                                       atol=1e-9)


def test_outside_the_mesh_is_no_data(http):
    assert get(http, f'{MESH}/position', coords='POINT(20 10)').status_code == 204


def test_multipoint_on_a_mesh_keeps_every_point_in_order(http):
    # two points nearest to one node, one outside the mesh, one repeated exactly
    a, b, outside = (-5.1, 45.2), (-5.12, 45.21), (30.0, 10.0)
    coords = 'MULTIPOINT(' + ','.join(f'({x} {y})' for x, y in (a, b, outside, a)) + ')'
    doc = check(get(http, f'{MESH}/position', coords=coords, datetime='2024-07-02T00:00:00Z',
                    **{'parameter-name': 'zeta'}).json())
    assert nearest_node(*a) == nearest_node(*b)
    assert doc['domain']['axes']['composite']['values'] == [list(a), list(b), list(outside)]
    k = nearest_node(*a)
    value = demo.lonlat_field(LON[k], LAT[k]) + 1
    assert doc['ranges']['zeta']['values'] == [pytest.approx(value, abs=1e-9), pytest.approx(value, abs=1e-9), None]
