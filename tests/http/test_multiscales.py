"""Multiscale stores (zarr-conventions layout, GeoZarr 0.4 tile matrix set): one collection, decimation
requests served from the coarsest sufficient level, and only that level read."""
from __future__ import annotations

import numpy as np
import pytest
from pyproj import Transformer

from helpers import check, get
from conftest import BUCKET
from kazarr_provider import demo
from kazarr_provider.data.catalogue import get_dataset
from kazarr_provider.api.service import coverage_document
from kazarr_provider.data.storage import Location

UTM = '/collections/projected.utm_multiscales'
TMS = '/collections/projected.tms'
TO_UTM = Transformer.from_crs('OGC:CRS84', 'EPSG:32632', always_xy=True)
BBOX = '6.6,45.2,7.4,45.6'


def test_a_multiscale_store_is_one_collection(http):
    ids = {c['id'] for c in http.get(http.base + '/collections', params={'f': 'json'}, timeout=30).json()
           ['collections']}
    assert 'projected.utm_multiscales' in ids and not any(i.startswith('projected.utm_multiscales.') for i in ids)


@pytest.mark.parametrize('params, level, cell', [
    ({'resolution-x': '30'}, '2', 2000.0),          # ~62 km / 30 = 2.07 km: the 2 km level is fine enough
    ({'resolution-x': '100'}, '0', 500.0),          # 620 m wanted: only the 500 m level is
    ({'resolution-limit': '100'}, '1', 1000.0),     # at most 100 cells per axis: 1 km gives 63
    ({}, '0', 500.0),                               # no decimation: full resolution
])
def test_level_choice_and_values(http, params, level, cell):
    response = get(http, f'{UTM}/cube', bbox=BBOX, **params)
    assert response.status_code == 200, response.text
    assert response.headers['Kazarr-Level'] == level
    doc = check(response.json())
    assert doc['kazarr:level'] == level
    x = np.array(doc['domain']['axes']['x']['values'])
    y = np.array(doc['domain']['axes']['y']['values'])
    assert np.allclose(np.diff(x), cell) and np.allclose(np.diff(y), -cell)
    values = np.array([np.nan if v is None else v for v in doc['ranges']['b04']['values']]).reshape(y.size, x.size)
    lon, lat = TO_UTM.transform(*np.meshgrid(x, y), direction='INVERSE')
    keep = ~np.isnan(values)
    np.testing.assert_allclose(values[keep], demo.lonlat_field(lon, lat)[keep], atol=1e-4)


def test_an_unmet_resolution_limit_is_said(http):
    # ~62 km across: even the coarsest (2 km) level gives ~31 cells, over a limit of 10
    response = get(http, f'{UTM}/cube', bbox=BBOX, **{'resolution-limit': '10'})
    assert response.status_code == 200 and response.headers['Kazarr-Level'] == '2'
    doc = check(response.json())
    assert 'resolution-limit=10 not met' in doc['kazarr:notice'] == response.headers['Kazarr-Notice']
    met = get(http, f'{UTM}/cube', bbox=BBOX, **{'resolution-limit': '100'})
    assert 'Kazarr-Notice' not in met.headers and 'kazarr:notice' not in met.json()


def test_tile_matrix_set_levels(http):
    doc = check(get(http, f'{TMS}/cube', bbox='-10,40,10,50', **{'resolution-x': '20'}).json())
    assert doc['kazarr:level'] == '0'
    x = np.array(doc['domain']['axes']['x']['values'])
    assert x.size == 20 and np.allclose(np.diff(x), 1.0)
    fine = check(get(http, f'{TMS}/cube', bbox='-10,40,10,50', **{'resolution-x': '70'}).json())
    assert fine['kazarr:level'] == '2'


def test_resolution_refused_without_levels(http):
    response = get(http, '/collections/sst_med/cube', bbox='10,35,12,37', **{'resolution-x': '10'})
    assert response.status_code == 400 and response.json()['parameter'] == 'resolution-x'


def test_decimated_read_touches_only_the_chosen_level(moto, datasets_dir):
    moto.upload(datasets_dir / 'projected' / 'utm_multiscales.zarr', 'ms/utm.zarr')
    opened = get_dataset(Location('ms/utm.zarr', BUCKET))
    moto.start_recording()
    document = coverage_document(opened, 'cube', {'bbox': BBOX, 'resolution-x': '30'}, 10**6)
    # the HTTP servers' background catalogue refresh lists datasets/ and explicit/ meanwhile: not ours
    ours = [r['path'] for r in moto.recorded() if r['method'] == 'GET'
            and not any(f'prefix={prefix}%2F' in r['path'] for prefix in ('datasets', 'explicit'))]
    keys = [path.split('/ms/utm.zarr/', 1)[-1] for path in ours]
    assert document['kazarr:level'] == '2'
    assert keys and all(k.startswith('2/b04/c/') for k in keys), keys


@pytest.mark.parametrize('group, band, cell', [('r10m', 'b02', 1000.0), ('r20m', 'b05', 2000.0),
                                              ('r60m', 'b09', 6000.0)])
def test_sibling_resolution_groups_each_read_on_their_own_grid(http, group, band, cell):
    response = get(http, f'/collections/projected.s2.{group}/position', coords='POINT(6.9 45.7)')
    assert response.status_code == 200, response.text
    doc = check(response.json())
    x, y = TO_UTM.transform(6.9, 45.7)
    cx = 300000.0 + cell * (np.floor((x - 300000.0) / cell) + 0.5)
    cy = 5100000.0 - cell * (np.floor((5100000.0 - y) / cell) + 0.5)
    lon, lat = TO_UTM.transform(cx, cy, direction='INVERSE')
    assert doc['ranges'][band]['values'][0] == pytest.approx(demo.lonlat_field(lon, lat), abs=1e-4)


def _utm_cell_value(lon, lat, cell):
    """The analytic value of the `cell`-metre level's cell holding (lon, lat)."""
    x, y = TO_UTM.transform(lon, lat)
    cx = 300000.0 + cell * (np.floor((x - 300000.0) / cell) + 0.5)
    cy = 5100000.0 - cell * (np.floor((5100000.0 - y) / cell) + 0.5)
    return demo.lonlat_field(*TO_UTM.transform(cx, cy, direction='INVERSE'))


@pytest.mark.parametrize('size, level, cell', [
    ((30, 20), '2', 2000.0),        # 0.8 deg of lon at 45.4 N = 62.6 km / 30 = 2.09 km; 44.5 km / 20 = 2.2 km
    ((60, 40), '1', 1000.0),        # 1.04 km and 1.11 km
    ((100, 50), '0', 500.0),        # 626 m: only the 500 m level is fine enough
])
def test_lonlat_coverage_of_a_projected_pyramid_reads_the_fitting_level(http, size, level, cell):
    """GDAL asks CRS84: the level is chosen by the output cells measured in the storage CRS."""
    import io
    import rasterio
    response = get(http, f'{UTM}/coverage', bbox=BBOX, crs='[OGC:CRS84]', width=str(size[0]),
                   height=str(size[1]), f='GeoTIFF')
    assert response.status_code == 200, response.text
    assert f'level={level}' in response.headers['Kazarr-Level']
    with rasterio.open(io.BytesIO(response.content)) as tif:
        assert (tif.width, tif.height) == size and tif.crs.to_epsg() == 4326
        values = tif.read(1)
        cols, rows = np.meshgrid(np.arange(tif.width), np.arange(tif.height))
        lon, lat = (np.reshape(v, rows.shape) for v in
                    rasterio.transform.xy(tif.transform, rows.ravel(), cols.ravel(), offset='center'))
    np.testing.assert_allclose(values, _utm_cell_value(lon, lat, cell), atol=1e-4)


def test_lonlat_levels_of_a_tile_matrix_set(http):
    # 40 x 30 degrees: 40 cells of 1 deg (level 0), 80 of 0.5 (level 1), 160 of 0.25 (level 2); 100 cells
    # (0.4 deg) need the 0.25 deg level: the 0.5 deg one is coarser than the output; 60 (0.67) the 0.5 deg one
    for width, level in ((40, '0'), (60, '1'), (80, '1'), (100, '2'), (160, '2'), (400, '2')):
        response = get(http, f'{TMS}/coverage', width=str(width), height='30', f='GeoTIFF')
        assert response.status_code == 200, response.text
        assert f'level={level}' in response.headers['Kazarr-Level'], (width, response.headers['Kazarr-Level'])


def test_coverage_reads_only_the_chosen_levels_chunks(moto, datasets_dir):
    """Counted in S3 bytes: a coarse lon/lat coverage of the UTM pyramid touches level 2's chunks only."""
    from kazarr_provider.api.coverages.adapter import answer_request
    moto.upload(datasets_dir / 'projected' / 'utm_multiscales.zarr', 'ms/utm_cov.zarr')
    opened = get_dataset(Location('ms/utm_cov.zarr', BUCKET))
    moto.start_recording()
    _, body, headers = answer_request(opened, {'bbox': BBOX, 'crs': 'CRS84', 'width': '30', 'height': '20',
                                               'f': 'GeoTIFF'}, {}, 10**6)
    gets = [r for r in moto.recorded() if r['method'] == 'GET'
            and not any(f'prefix={prefix}%2F' in r['path'] for prefix in ('datasets', 'explicit'))]
    keys = [r['path'].split('/ms/utm_cov.zarr/', 1)[-1] for r in gets]
    assert 'level=2' in headers['Kazarr-Level']
    assert keys and all(k.startswith('2/b04/c/') for k in keys), keys
    level_bytes = sum(o['Size'] for o in moto.client().list_objects_v2(
        Bucket=BUCKET, Prefix='ms/utm_cov.zarr/2/b04/c/')['Contents'])
    read = sum(int(r['headers'].get('Content-Length', 0) or 0) for r in gets)
    assert read <= level_bytes


def test_an_output_exactly_on_a_levels_grid_reads_that_level(http):
    # 40 x 30 degrees in 80 x 60 cells: 0.5 deg, exactly level 1's cells (coordinates float32 or not)
    response = get(http, f'{TMS}/coverage', width='80', height='60', f='GeoTIFF')
    assert response.status_code == 200 and 'level=1' in response.headers['Kazarr-Level']
