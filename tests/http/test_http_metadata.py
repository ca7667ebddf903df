"""Collections, computed metadata, OpenAPI, health, catalogue refresh over HTTP."""
from __future__ import annotations

import time

import pytest

from kazarr_provider import demo


def test_health(http):
    response = http.get(http.base + '/health', timeout=10)
    assert response.status_code == 200 and response.json() == {'status': 'ok'}


def test_discovered_and_configured_collections(http):
    ids = {c['id'] for c in http.get(http.base + '/collections', params={'f': 'json'}, timeout=30).json()
           ['collections']}
    assert {'era5.pressure_levels', 'sst_med', 'ensemble', 'variants.era5_v2_plain', 'variants.era5_v3_plain',
            'variants.era5_v2_consolidated', 'explicit-sst'} <= ids
    assert 'broken' not in ids          # unreadable store: logged and skipped


def collection(http, ident):
    response = http.get(http.base + f'/collections/{ident}', params={'f': 'json'}, timeout=30)
    assert response.status_code == 200
    return response.json()


def test_era5_metadata_from_data(http):
    doc = collection(http, 'era5.pressure_levels')
    assert doc['title'] == 'ERA5-like pressure levels'
    extent = doc['extent']
    assert extent['spatial']['bbox'] == [[-180.0, -90.0, 180.0, 90.0]]
    assert extent['temporal']['interval'] == [['2024-01-01T00:00:00Z', '2024-01-01T18:00:00Z']]
    assert len(extent['temporal']['values']) == 4
    assert extent['vertical']['interval'] == [['300.0', '1000.0']]
    assert extent['vertical']['values'] == ['1000.0', '850.0', '700.0', '500.0', '300.0']
    params = doc['parameter_names']
    assert set(params) == {'t', 'u', 'z_sfc', 'quality'}
    assert params['t'] == {'type': 'Parameter', 'id': 't', 'description': 'Temperature',
                           'observedProperty': {'id': 'air_temperature', 'label': 'Temperature'},
                           'unit': {'label': 'K', 'symbol': 'K'}}
    assert 'unit' not in params['quality']
    for query in ('position', 'radius', 'area', 'cube', 'trajectory', 'corridor'):
        link = doc['data_queries'][query]['link']
        assert link['href'].endswith(f'/collections/era5.pressure_levels/{query}')
        assert link['variables']['query_type'] == query
        assert link['variables']['output_formats'] == ['CoverageJSON', 'GeoJSON', 'CSV', 'NetCDF']
        assert link['variables']['crs_details'][0]['crs'] == 'CRS84'
    assert doc['data_queries']['cube']['link']['variables']['height_units'] == ['hPa']
    data_links = [link for link in doc['links'] if link['rel'] == 'data']
    assert data_links and all(link['type'] == 'application/vnd.cov+json' for link in data_links)
    assert 'CRS84' in doc['crs']
    meta = doc['kazarr:metadata']
    assert meta['dimensions'] == {'time': 4, 'level': 5, 'latitude': 73, 'longitude': 144}
    assert meta['variables']['t']['dimensions'] == ['time', 'level', 'latitude', 'longitude']


def test_regional_extent_uses_cell_edges(http):
    bbox = collection(http, 'sst_med')['extent']['spatial']['bbox'][0]
    assert bbox == pytest.approx([-6.0, 30.0, 36.0, 46.0])


def test_custom_dimension_in_extent(http):
    custom = collection(http, 'ensemble')['extent']['custom']
    assert custom == [{'id': 'number', 'values': [0, 1, 2], 'reference': 'ensemble member',
                       'interval': [[0, 2]]}]


def test_openapi_lists_collections_and_health(http):
    response = http.get(http.base + '/openapi', params={'f': 'json'}, timeout=30)
    assert response.status_code == 200
    paths = response.json()['paths']
    assert '/health' in paths
    assert '/collections/era5.pressure_levels/position' in paths
    assert 'post' in paths['/collections/sst_med/cube']


def _ids(http):
    return {c['id'] for c in http.get(http.base + '/collections', params={'f': 'json'}, timeout=30).json()
            ['collections']}


def test_new_and_removed_datasets_follow_without_restart(http, server, tmp_path):
    server.add_store('late/arrival.zarr', demo.make_sst, tmp_path)
    try:
        deadline = time.monotonic() + 20
        while 'late.arrival' not in _ids(http) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert 'late.arrival' in _ids(http)
        paths = http.get(http.base + '/openapi', params={'f': 'json'}, timeout=30).json()['paths']
        assert '/collections/late.arrival/position' in paths
        response = http.get(http.base + '/collections/late.arrival/position',
                            params={'coords': 'POINT(14.05 40.05)', 'datetime': '2024-07-01T00:00:00Z'}, timeout=30)
        assert response.json()['ranges']['analysed_sst']['values'][0] == pytest.approx(
            demo.sst(14.05, 40.05, 0.0), abs=6e-4)
    finally:
        server.remove_store('late')
    deadline = time.monotonic() + 20
    while 'late.arrival' in _ids(http) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert 'late.arrival' not in _ids(http)
    response = http.get(http.base + '/collections/late.arrival/position', params={'coords': 'POINT(14 40)'},
                        timeout=30)
    assert response.status_code == 404


def test_on_demand_refresh(http, server, tmp_path):
    server.add_store('ondemand.zarr', demo.make_sst, tmp_path)
    try:
        response = http.post(http.base + '/catalogue/refresh', timeout=60)
        assert response.status_code == 200 and 'ondemand' in response.json()['collections']
    finally:
        server.remove_store('ondemand.zarr')
    assert 'ondemand' not in http.post(http.base + '/catalogue/refresh', timeout=60).json()['collections']


def test_conformance_declares_edr(http):
    conforms = http.get(http.base + '/conformance', params={'f': 'json'}, timeout=30).json()['conformsTo']
    for name in ('core', 'collections', 'json', 'covjson', 'queries'):
        assert f'http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/{name}' in conforms
    assert 'http://www.opengis.net/spec/ogcapi-edr-1/1.0/conf/core' in conforms
