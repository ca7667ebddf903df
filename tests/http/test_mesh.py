"""A UGRID triangle mesh (1-based connectivity, data on nodes and faces) queried in lon/lat."""
from __future__ import annotations

import numpy as np
import pytest
import shapely

from helpers import check, coverages, get
from kazarr_provider import demo

MESH = '/collections/projected.mesh'
LON, LAT = (a.ravel() for a in demo.mesh_nodes())


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


def test_corridor_selects_the_nodes_within_half_the_width(http):
    from pyproj import Geod
    geod = Geod(ellps='WGS84')
    (x0, y0), (x1, y1) = (-8.0, 44.0), (-2.0, 47.0)
    doc = check(get(http, f'{MESH}/corridor', coords=f'LINESTRING({x0} {y0},{x1} {y1})', datetime='2024-07-02T00:00:00Z',
                    **{'corridor-width': '60', 'width-units': 'km', 'parameter-name': 'zeta'}).json())
    xy = np.array(coverages(doc)[0]['domain']['axes']['composite']['values'])
    # brute force: the path sampled every 100 m along its geodesic, distance to the nearest sample
    path = np.array([(x0, y0)] + geod.npts(x0, y0, x1, y1, 6000) + [(x1, y1)])
    def distance(lon, lat):
        return geod.inv(np.full(len(path), lon), np.full(len(path), lat), path[:, 0], path[:, 1])[2].min()
    truth = {k for k in range(LON.size) if distance(LON[k], LAT[k]) <= 30_000 - 50}
    edge = {k for k in range(LON.size) if abs(distance(LON[k], LAT[k]) - 30_000) <= 50}
    got = {int(np.argmin(np.hypot(LON - x, LAT - y))) for x, y in xy}
    assert truth <= got <= truth | edge and len(truth) > 10


def test_trajectory_on_a_mesh_follows_the_path_as_asked(http):
    # two vertices nearest to one node: the path keeps both, where they were asked
    path = [(-5.1, 45.2), (-5.12, 45.21), (-3.0, 46.0)]
    doc = check(get(http, f'{MESH}/trajectory', coords='LINESTRING(' + ','.join(f'{x} {y}' for x, y in path) + ')',
                    datetime='2024-07-02T00:00:00Z', **{'parameter-name': 'zeta'}).json())
    assert [v[1:] for v in doc['domain']['axes']['composite']['values']] == [list(p) for p in path]
    expected = [demo.lonlat_field(LON[k], LAT[k]) + 1 for k in (nearest_node(*p) for p in path)]
    np.testing.assert_allclose(doc['ranges']['zeta']['values'], expected, atol=1e-9)
