"""OGC API – Processes over HTTP (local and S3): the four processes checked against the analytic fields,
1.0's execution modes, jobs, and every error naming its input."""
from __future__ import annotations

import base64
import time

import numpy as np
import pytest
from pyproj import Transformer
from scipy.spatial import cKDTree

from kazarr_provider import demo

ERA5 = 'era5.pressure_levels'
LATEST = '2024-01-01T18:00:00Z'
EXCEPTION = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/'


def execute(http, process, inputs, prefer=None, **body):
    headers = {'Prefer': prefer} if prefer else {}
    return http.post(f'{http.base}/processes/{process}/execution', json={'inputs': inputs, **body},
                     headers=headers, timeout=120)


def era5_t(lon, lat):
    """The stored ERA5 temperature (float32) at the latest step and the first level."""
    return demo.era5_temperature(lon, lat, 1000.0, 18.0).astype('float32').astype('float64')


def grid_edges(lon2d, lat2d):
    """Every edge between neighbouring cell centres: (start lon/lat, end lon/lat), (start index, end index)."""
    ny, nx = lon2d.shape
    index = np.arange(ny * nx).reshape(ny, nx)
    starts = np.concatenate([index[:, :-1].ravel(), index[:-1, :].ravel()])
    ends = np.concatenate([index[:, 1:].ravel(), index[1:, :].ravel()])
    points = np.column_stack([lon2d.ravel(), lat2d.ravel()])
    return points[starts], points[ends], starts, ends


def check_vertices_on_edges(lines, level, lon2d, lat2d, field2d, tolerance):
    """Each vertex lies on a segment between neighbouring centres where the field, interpolated linearly
    along it, equals the level."""
    a, b, ia, ib = grid_edges(lon2d, lat2d)
    tree = cKDTree((a + b) / 2)
    values = field2d.ravel()
    vertices = np.concatenate([np.asarray(line) for line in lines])
    _, candidates = tree.query(vertices, k=8)
    for vertex, near in zip(vertices, candidates):
        d = b[near] - a[near]
        t = np.clip(((vertex - a[near]) * d).sum(axis=1) / (d * d).sum(axis=1), 0, 1)
        gap = np.hypot(*(a[near] + t[:, None] * d - vertex).T)
        best = int(np.argmin(gap))
        assert gap[best] < 1e-6, (vertex, gap[best])
        edge = near[best]
        interpolated = values[ia[edge]] + t[best] * (values[ib[edge]] - values[ia[edge]])
        assert interpolated == pytest.approx(level, abs=tolerance), (vertex, interpolated, level)


def test_processes_are_listed_and_described(http):
    listed = http.get(f'{http.base}/processes', timeout=30).json()
    assert [p['id'] for p in listed['processes']] == ['isolines', 'isobands', 'mesh', 'regrid']
    for summary in listed['processes']:
        assert set(summary['jobControlOptions']) == {'sync-execute', 'async-execute', 'dismiss'}
        description = http.get(f'{http.base}/processes/{summary["id"]}', timeout=30).json()
        assert ERA5 in description['inputs']['collection']['schema']['enum']
        assert all('schema' in spec for spec in description['inputs'].values())
        assert all('schema' in spec for spec in description['outputs'].values())
    conformance = http.get(f'{http.base}/conformance', timeout=30).json()['conformsTo']
    processes = sorted(c.rsplit('/', 1)[-1] for c in conformance if 'ogcapi-processes-1' in c)
    assert processes == ['core', 'dismiss', 'job-list', 'json', 'oas30', 'ogc-process-description']


def test_isolines_on_a_0_360_descending_grid_lie_on_the_field(http):
    levels = [285.0, 300.5, 292.0]       # the field spans 275..311 K in the bbox
    response = execute(http, 'isolines', {'collection': ERA5, 'parameter': 't', 'levels': levels,
                                          'bbox': [-30, 20, 40, 70]})
    assert response.status_code == 200, response.text
    assert response.headers['Content-Type'] == 'application/geo+json'
    features = response.json()['features']
    assert [f['properties']['level'] for f in features] == levels
    lon = np.arange(144) * 2.5
    lon = np.where(lon >= 180, lon - 360, lon)
    order = np.argsort(lon)
    lon2d, lat2d = np.meshgrid(lon[order], np.linspace(90, -90, 73))
    for feature, level in zip(features, levels):
        props = feature['properties']
        assert props['datetime'] == LATEST and props['z'] == 1000.0 and props['unit'] == 'K'
        assert feature['geometry']['type'] == 'MultiLineString'
        lines = feature['geometry']['coordinates']
        assert lines, level
        check_vertices_on_edges(lines, level, lon2d, lat2d, era5_t(lon2d, lat2d), 1e-3)


def test_isolines_split_at_the_antimeridian(http):
    # t decreases with |lat| and varies with sin(lon): the 270 K contour crosses 180 E
    response = execute(http, 'isolines', {'collection': ERA5, 'parameter': 't', 'levels': [270.0],
                                          'bbox': [160, 20, -160, 70], 'datetime': '2024-01-01T00:00:00Z',
                                          'z': 850})
    assert response.status_code == 200, response.text
    feature = response.json()['features'][0]
    assert feature['properties']['datetime'] == '2024-01-01T00:00:00Z' and feature['properties']['z'] == 850.0
    lines = [np.asarray(line) for line in feature['geometry']['coordinates']]
    assert len(lines) >= 2
    for line in lines:
        assert (np.abs(line[:, 0]) <= 180).all()
        assert (np.abs(np.diff(line[:, 0])) < 180).all()
    ends = np.concatenate([line[[0, -1], 0] for line in lines])
    assert np.isclose(np.abs(ends), 180).any()
    for line in lines:
        level = demo.era5_temperature(line[:, 0], line[:, 1], 850.0, 0.0)
        assert np.abs(level - 270.0).max() < 1.5        # linear interpolation of a smooth field


def test_isolines_on_projected_and_curvilinear_grids(http):
    x = 300000.0 + 1000.0 * (np.arange(120) + 0.5)
    y = 5100000.0 - 1000.0 * (np.arange(100) + 0.5)
    lon2d, lat2d = Transformer.from_crs('EPSG:32632', 'OGC:CRS84', always_xy=True).transform(*np.meshgrid(x, y))
    # the latest of two daily steps: the field + 1
    field = (demo.lonlat_field(lon2d, lat2d).astype('float32') + 1).astype('float64')
    level = float(np.round(np.median(field), 2))
    response = execute(http, 'isolines', {'collection': 'projected.utm32', 'parameter': 'b04', 'levels': [level]})
    assert response.status_code == 200, response.text
    check_vertices_on_edges(response.json()['features'][0]['geometry']['coordinates'], level, lon2d, lat2d,
                            field, 1e-4)
    lon2d, lat2d = demo.rotated_lonlat()
    field = demo.lonlat_field(lon2d, lat2d).astype('float32').astype('float64')
    level = float(np.round(np.median(field), 2))
    response = execute(http, 'isolines', {'collection': 'projected.ocean', 'parameter': 'thetao', 'levels': [level]})
    assert response.status_code == 200, response.text
    check_vertices_on_edges(response.json()['features'][0]['geometry']['coordinates'], level, lon2d, lat2d,
                            field, 1e-4)


def test_isobands_hold_their_values(http):
    response = execute(http, 'isobands', {'collection': ERA5, 'parameter': 't', 'levels': {'step': 10, 'min': 280,
                                                                                        'max': 320},
                                          'bbox': [0, 20, 30, 60]})
    assert response.status_code == 200, response.text
    features = response.json()['features']
    assert [(f['properties']['lower'], f['properties']['upper']) for f in features] == \
        [(280.0, 290.0), (290.0, 300.0), (300.0, 310.0), (310.0, 320.0)]
    import shapely
    for feature in features:
        lower, upper = feature['properties']['lower'], feature['properties']['upper']
        shape = shapely.geometry.shape(feature['geometry'])
        if shape.is_empty:
            continue
        for polygon in shape.geoms:
            assert polygon.exterior.is_ccw and all(not hole.is_ccw for hole in polygon.interiors)
        points = shapely.get_coordinates(shape.representative_point())
        inside = era5_t(points[:, 0], points[:, 1])
        assert ((inside >= lower - 0.5) & (inside < upper + 0.5)).all()


def test_mesh_of_a_window(http):
    response = execute(http, 'mesh', {'collection': ERA5, 'parameter': 't', 'bbox': [0, 40, 10, 50]})
    assert response.status_code == 200, response.text
    mesh = response.json()
    vertices, triangles = np.array(mesh['vertices']), np.array(mesh['triangles'])
    assert mesh['data_mapping'] == 'vertices' and vertices.shape == (25, 2) and triangles.shape == (32, 3)
    a, b, c = (vertices[triangles[:, k]] for k in range(3))
    assert (((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])) > 0).all()
    np.testing.assert_allclose(mesh['values']['t'], era5_t(vertices[:, 0], vertices[:, 1]), atol=1e-4)
    nc = execute(http, 'mesh', {'collection': ERA5, 'parameter': 't', 'bbox': [0, 40, 10, 50],
                                'data_mapping': 'cells'},
                 outputs={'mesh': {'format': {'mediaType': 'application/x-netcdf'}}})
    assert nc.status_code == 200 and nc.headers['Content-Type'] == 'application/x-netcdf'
    import io
    import xarray as xr
    ds = xr.open_dataset(io.BytesIO(nc.content))
    assert ds['mesh'].attrs['cf_role'] == 'mesh_topology' and ds['t'].attrs['location'] == 'face'


@pytest.mark.parametrize('method, field, tolerance', [('linear', 'bilinear', 1e-9), ('cubic', 'cubic', 1e-9),
                                                      ('nearest', 'bilinear', None)])
def test_regrid_values_follow_the_formula(http, method, field, tolerance):
    response = execute(http, 'regrid', {'collection': 'polynomial', 'parameter': field, 'bbox': [-10, -5, 10, 5],
                                        'size': [16, 8], 'method': method, 'datetime': '2024-01-01T00:00:00Z'})
    assert response.status_code == 200, response.text
    doc = response.json()
    x, y = np.array(doc['domain']['axes']['x']['values']), np.array(doc['domain']['axes']['y']['values'])
    np.testing.assert_allclose(x, -10 + 20 * (np.arange(16) + 0.5) / 16)
    np.testing.assert_allclose(y, 5 - 10 * (np.arange(8) + 0.5) / 8)
    values = np.array(doc['ranges'][field]['values'], dtype='float64').reshape(8, 16)
    lon, lat = np.meshgrid(x, y)
    if tolerance is None:
        lon, lat = np.round(lon), np.round(lat)          # the 1-degree cell holding each centre
        tolerance = 1e-9
    formula = demo.bilinear_field(lon, lat) if field == 'bilinear' else demo.cubic_field(lon, lat)
    np.testing.assert_allclose(values, formula, atol=tolerance)


def test_async_job_runs_outside_the_request_and_is_fetched(http):
    inputs = {'collection': ERA5, 'parameter': 't', 'levels': [260.0, 275.0], 'bbox': [-10, 30, 30, 60]}
    response = execute(http, 'isolines', inputs, prefer='respond-async, wait=10')
    assert response.status_code == 201, response.text
    assert response.headers['Preference-Applied'] == 'respond-async'
    status = response.json()
    assert status['status'] in ('accepted', 'running', 'successful') and status['processID'] == 'isolines'
    location = response.headers['Location']
    assert location.endswith(f'/jobs/{status["jobID"]}')
    deadline = time.monotonic() + 60
    while status['status'] in ('accepted', 'running') and time.monotonic() < deadline:
        time.sleep(0.2)
        status = http.get(location, timeout=30).json()
    assert status['status'] == 'successful', status
    assert status['progress'] == 100 and status['started'] <= status['finished']
    results = http.get(f'{location}/results', timeout=30)
    assert results.status_code == 200 and results.headers['Content-Type'] == 'application/geo+json'
    assert results.json() == execute(http, 'isolines', inputs).json()
    listed = http.get(f'{http.base}/jobs', params={'processID': 'isolines', 'status': 'successful'}, timeout=30)
    assert status['jobID'] in [job['jobID'] for job in listed.json()['jobs']]
    dismissed = http.delete(location, timeout=30)
    assert dismissed.status_code == 200 and dismissed.json()['status'] == 'dismissed'
    gone = http.get(f'{location}/results', timeout=30)
    assert gone.status_code == 404 and gone.json()['type'] == EXCEPTION + 'no-such-job'


def test_document_and_reference_responses(http):
    inputs = {'collection': 'polynomial', 'parameter': 'bilinear', 'bbox': [-10, -5, 10, 5], 'size': [4, 2]}
    document = execute(http, 'regrid', inputs, response='document',
                       outputs={'coverage': {'format': {'mediaType': 'application/x-netcdf'}}})
    assert document.status_code == 200 and document.headers['Content-Type'] == 'application/json'
    value = document.json()['coverage']
    assert value['mediaType'] == 'application/x-netcdf' and base64.b64decode(value['value'])[:3] in (b'CDF', b'\x89HD')
    reference = execute(http, 'regrid', inputs, outputs={'coverage': {'transmissionMode': 'reference'}})
    assert reference.status_code == 204, reference.text
    href = reference.headers['Link'].split('>', 1)[0].lstrip('<')
    fetched = http.get(href, timeout=30)
    assert fetched.status_code == 200 and fetched.json()['domain']['domainType'] == 'Grid'


@pytest.mark.parametrize('process, inputs, named', [
    ('isolines', {'collection': ERA5, 'parameter': 't'}, 'levels'),
    ('isolines', {'collection': 'nope', 'parameter': 't', 'levels': [1]}, 'collection'),
    ('isolines', {'collection': ERA5, 'parameter': 'nope', 'levels': [1]}, 'parameter'),
    ('isolines', {'collection': ERA5, 'parameter': 't', 'levels': {'step': -1}}, 'levels'),
    ('isolines', {'collection': ERA5, 'parameter': 't', 'levels': list(range(1001))}, 'levels'),
    ('isolines', {'collection': ERA5, 'parameter': 't', 'levels': [1], 'bbox': [0, 100, 10, 50]}, 'bbox'),
    ('isolines', {'collection': ERA5, 'parameter': 't', 'levels': [1], 'bbox': [0, 1]}, 'bbox'),
    ('isolines', {'collection': ERA5, 'parameter': 't', 'levels': [1], 'datetime': 'yesterday'}, 'datetime'),
    ('isolines', {'collection': ERA5, 'parameter': 't', 'levels': [1], 'dimensions': {'member': 1}}, 'dimensions'),
    ('isolines', {'collection': ERA5, 'parameter': 't', 'levels': [1], 'colour': 'red'}, 'colour'),
    ('regrid', {'collection': ERA5, 'bbox': [0, 40, 10, 50]}, 'size'),
    ('regrid', {'collection': ERA5, 'bbox': [0, 40, 10, 50], 'size': [0, 4]}, 'size'),
    ('regrid', {'collection': ERA5, 'bbox': [0, 40, 10, 50], 'size': [4, 4], 'method': 'magic'}, 'method'),
    ('regrid', {'collection': ERA5, 'bbox': [0, 40, 10, 50], 'size': [4, 4], 'method': 'idw',
                'method_params': {'power': 'x'}}, 'method_params'),
    ('mesh', {'collection': ERA5, 'data_mapping': 'faces'}, 'data_mapping'),
])
def test_bad_inputs_are_named(http, process, inputs, named):
    response = execute(http, process, inputs)
    assert response.status_code == 400, response.text
    assert response.headers['Content-Type'] == 'application/problem+json'
    assert response.json()['parameter'] == named, response.json()


def test_standard_exceptions(http):
    missing = execute(http, 'nope', {})
    assert missing.status_code == 404 and missing.json()['type'] == EXCEPTION + 'no-such-process'
    job = http.get(f'{http.base}/jobs/0123abc', timeout=30)
    assert job.status_code == 404 and job.json()['type'] == EXCEPTION + 'no-such-job'
    too_large = execute(http, 'regrid', {'collection': ERA5, 'bbox': [0, 40, 10, 50], 'size': [5000, 5000]})
    assert too_large.status_code == 413 and 'respond-async' in too_large.json()['detail']
    outside = execute(http, 'isolines', {'collection': 'sst_med', 'parameter': 'analysed_sst', 'levels': [290],
                                         'bbox': [100, 10, 110, 20]})
    assert outside.status_code in (204, 404)


def test_owslib_processes_client(http):
    """A client that knows only OGC API – Processes 1.0: list, describe, execute sync and async."""
    from owslib.ogcapi.processes import Processes
    client = Processes(http.base)
    assert {p['id'] for p in client.processes()} == {'isolines', 'isobands', 'mesh', 'regrid'}
    assert 'levels' in client.process('isolines')['inputs']
    inputs = {'collection': 'polynomial', 'parameter': 'bilinear', 'bbox': [-10, -5, 10, 5], 'size': [4, 2],
              'method': 'linear', 'datetime': '2024-01-01T00:00:00Z'}
    document = client.execute('regrid', inputs)
    values = np.array(document['coverage']['ranges']['bilinear']['values']).reshape(2, 4)
    lon, lat = np.meshgrid([-7.5, -2.5, 2.5, 7.5], [2.5, -2.5])
    np.testing.assert_allclose(values, demo.bilinear_field(lon, lat), atol=1e-9)
    status = client.execute('regrid', inputs, async_=True)
    assert status['status'] in ('accepted', 'running', 'successful')
    deadline = time.monotonic() + 60
    while status['status'] in ('accepted', 'running') and time.monotonic() < deadline:
        time.sleep(0.2)
        status = http.get(f'{http.base}/jobs/{status["jobID"]}', timeout=30).json()
    assert status['status'] == 'successful'
    results = http.get(f'{http.base}/jobs/{status["jobID"]}/results', timeout=30).json()
    assert results['coverage']['ranges']['bilinear']['values'] == document['coverage']['ranges']['bilinear']['values']


DEMO = [('era5.pressure_levels', 't', 295.0, [0, 30, 30, 60]), ('sst_med', 'analysed_sst', 20.5, [0, 35, 10, 42]),
        ('ensemble', 'tp', 3.5, [-30, -20, 60, 40])]


@pytest.mark.parametrize('collection, parameter, level, bbox', DEMO)
def test_owslib_runs_every_process_on_every_demo_collection(http, collection, parameter, level, bbox):
    """Sync and async, through a client that knows only OGC API – Processes 1.0."""
    from owslib.ogcapi.processes import Processes
    client = Processes(http.base)
    runs = {'isolines': {'parameter': parameter, 'levels': [level]},
            'isobands': {'parameter': parameter, 'levels': [level - 1, level, level + 1]},
            'mesh': {'parameter': parameter},
            'regrid': {'parameter': parameter, 'size': [10, 8], 'method': 'linear'}}
    for process, inputs in runs.items():
        inputs = {'collection': collection, 'bbox': bbox, **inputs}
        document = client.execute(process, inputs)            # response: document (OWSLib's default)
        (output, value), = document.items()
        if process == 'isolines':
            assert value['features'][0]['geometry']['coordinates'], 'the level occurs in the bbox'
        status = client.execute(process, inputs, async_=True)
        deadline = time.monotonic() + 60
        while status['status'] in ('accepted', 'running') and time.monotonic() < deadline:
            time.sleep(0.2)
            status = http.get(f'{http.base}/jobs/{status["jobID"]}', timeout=30).json()
        assert status['status'] == 'successful', (process, status)
        results = http.get(f'{http.base}/jobs/{status["jobID"]}/results', timeout=30).json()
        assert results == {output: value}, process          # a job's results as its request asked
    # the ensemble's member defaults to the first one, and the answer says so
    if collection == 'ensemble':
        features = client.execute('isolines', {'collection': collection, 'parameter': parameter,
                                               'levels': [level]})['isolines']['features']
        assert features[0]['properties']['number'] == 0
