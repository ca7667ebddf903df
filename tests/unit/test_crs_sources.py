"""Where a grid's CRS and placement come from when the obvious places are empty: a CRS declared by a
later variable only, inherited from the multiscale or product root, a tile matrix set's CRS, grids with
no coordinate arrays (spatial:transform, GeoTransform), and CRSs rebuilt from CF parameters named by
their EPSG code. Values are checked against the lon/lat formula through pyproj."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import xarray as xr
from pyproj import CRS, Transformer

from kazarr_provider import demo
from kazarr_provider.data.catalogue import Catalogue, get_dataset
from kazarr_provider.core.crs import crs_uri, same_crs
from kazarr_provider.core.model import build_model
from kazarr_provider.api.params import parse_crs
from kazarr_provider.errors import DatasetUnavailable
from kazarr_provider.api.collections import collection_document
from kazarr_provider.api.service import coverage_document
from kazarr_provider.data.storage import Location

TO_UTM = Transformer.from_crs('OGC:CRS84', 'EPSG:32632', always_xy=True)
TO_POLAR = Transformer.from_crs('OGC:CRS84', 'EPSG:3413', always_xy=True)
TO_MERCATOR = Transformer.from_crs('OGC:CRS84', 'EPSG:3857', always_xy=True)
UTM_URI = 'http://www.opengis.net/def/crs/EPSG/0/32632'
POLAR_URI = 'http://www.opengis.net/def/crs/EPSG/0/3413'


def centre(value, origin, step):
    """Centre of the cell holding `value` on a grid starting at `origin` (a corner) with signed `step`."""
    return origin + step * (np.floor((value - origin) / step) + 0.5)


def expected_at(transformer, lon, lat, x0, dx, y0, dy):
    """The formula at the centre of the cell (of the grid x0 + dx*i, y0 + dy*j) holding lon/lat, and that centre."""
    x, y = transformer.transform(lon, lat)
    cx, cy = centre(x, x0, dx), centre(y, y0, dy)
    clon, clat = transformer.transform(cx, cy, direction='INVERSE')
    return demo.lonlat_field(clon, clat), cx, cy


@pytest.fixture(scope='module')
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp('crs_sources')
    demo.make_undeclared_first_variable(str(root / 'first.zarr'))
    for key in ('proj:code', 'proj:wkt2', 'proj:projjson'):
        demo.make_utm_multiscales_root_crs(str(root / f'ms_{key[5:]}.zarr'), key)
    demo.make_utm_multiscales_root_crs(str(root / 'ms_nocoords.zarr'), coordinates=False)
    demo.make_resolution_groups_root_crs(str(root / 's2root.zarr'))
    demo.make_tms_mercator(str(root / 'tms3857.zarr'))
    demo.make_polar_cf(str(root / 'polar_cf.zarr'))
    for kind in ('spatial', 'geotransform', 'rotated'):
        demo.make_transform_only(str(root / f'transform_{kind}.zarr'), kind)
    return root


def opened(stores, name):
    return get_dataset(Location(str(stores / name)))


def position(dataset, lon, lat, **extra):
    return coverage_document(dataset, 'position', {'coords': f'POINT({lon} {lat})', **extra}, 10**6)


# 1. the CRS is decided from the variables that declare one, not from the first variable

def test_crs_declared_by_a_later_variable_only(stores):
    dataset = opened(stores, 'first.zarr')
    assert dataset.model.x == 'xc' and dataset.model.y == 'yc'
    assert dataset.model.crs.is_geographic and 'grid_mapping crs' in dataset.model.crs_source
    assert set(dataset.model.variables) == {'ival', 'v'}
    doc = position(dataset, 3.3, 41.2)
    clon, clat = centre(3.3, -10.0, 0.5), centre(41.2, 50.0, -0.5)
    assert doc['domain']['axes']['x']['values'] == [pytest.approx(clon)]
    assert doc['ranges']['v']['values'][0] == pytest.approx(demo.lonlat_field(clon, clat), abs=1e-9)
    assert doc['ranges']['ival']['values'][0] == round(demo.lonlat_field(clon, clat) * 100)


def _two_mappings(second: dict) -> xr.Dataset:
    x = 300000.0 + 1000.0 * (np.arange(4) + 0.5)
    y = 5100000.0 - 1000.0 * (np.arange(3) + 0.5)
    return xr.Dataset(
        {'a': (('y', 'x'), np.zeros((3, 4)), {}),
         'b': (('y', 'x'), np.zeros((3, 4)), {'grid_mapping': 'utm'}),
         'c': (('y', 'x'), np.zeros((3, 4)), {'grid_mapping': 'other'}),
         'utm': ((), 0, {'crs_wkt': CRS.from_epsg(32632).to_wkt()}),
         'other': ((), 0, second)},
        coords={'x': ('x', x, {'axis': 'X'}), 'y': ('y', y, {'axis': 'Y'})})


def test_variables_declaring_different_crss_are_logged(caplog):
    with caplog.at_level(logging.WARNING, logger='kazarr_provider.core.model'):
        model = build_model(_two_mappings({'crs_wkt': CRS.from_epsg(32633).to_wkt()}))
    assert model.crs == CRS.from_epsg(32632) and model.crs_source == 'grid_mapping utm crs_wkt'
    assert 'declare different CRSs' in caplog.text and 'c (grid_mapping other' in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger='kazarr_provider.core.model'):
        # the same CRS written differently (CF parameters, no WKT) is an agreement, not a disagreement
        build_model(_two_mappings({k: v for k, v in CRS.from_epsg(32632).to_cf().items() if k != 'crs_wkt'}))
    assert 'declare different CRSs' not in caplog.text


# 2. levels and resolution groups inherit the CRS of the group above them

@pytest.mark.parametrize('name, source', [('ms_code.zarr', 'parent group proj:code'),
                                          ('ms_wkt2.zarr', 'parent group proj:wkt2'),
                                          ('ms_projjson.zarr', 'parent group proj:projjson'),
                                          ('ms_nocoords.zarr', 'parent group proj:code')])
def test_multiscale_levels_inherit_the_root_crs(stores, name, source):
    dataset = opened(stores, name)
    assert [level.name for level in dataset.levels] == ['0', '1', '2', '3']
    for level, cell in zip(dataset.levels, (500.0, 1000.0, 2000.0, 4000.0)):
        assert level.model.crs == CRS.from_epsg(32632) and level.model.crs_source == source
        nx, ny = int(120000 / cell), int(100000 / cell)
        np.testing.assert_allclose(level.model.x_values, 300000.0 + cell * (np.arange(nx) + 0.5))
        np.testing.assert_allclose(level.model.y_values, 5100000.0 - cell * (np.arange(ny) + 0.5))
    assert collection_document('/c', dataset.model, dict(dataset.ds.sizes))['storageCrs'] == UTM_URI
    doc = coverage_document(dataset, 'cube', {'bbox': '6.6,45.2,7.4,45.6', 'resolution-x': '12'}, 10**6)
    assert doc['kazarr:level'] == '3'                      # ~62 km / 12 = 5.2 km: the 4 km level
    x = np.array(doc['domain']['axes']['x']['values'])
    y = np.array(doc['domain']['axes']['y']['values'])
    assert np.allclose(np.diff(x), 4000.0) and np.allclose(np.diff(y), -4000.0)
    values = np.array([np.nan if v is None else v for v in doc['ranges']['b04']['values']]).reshape(y.size, x.size)
    lon, lat = TO_UTM.transform(*np.meshgrid(x, y), direction='INVERSE')
    keep = ~np.isnan(values)
    assert keep.sum() > 100
    np.testing.assert_allclose(values[keep], demo.lonlat_field(lon, lat)[keep], atol=1e-4)
    value, cx, cy = expected_at(TO_UTM, 7.05, 45.43, 300000.0, 500.0, 5100000.0, -500.0)
    point = position(dataset, 7.05, 45.43, crs=UTM_URI)
    assert point['domain']['axes']['x']['values'] == [cx] and point['domain']['axes']['y']['values'] == [cy]
    assert point['ranges']['b04']['values'][0] == pytest.approx(value, abs=1e-4)


def test_layout_transform_is_the_one_cross_checked(stores, caplog):
    level = xr.open_zarr(str(stores / 'ms_code.zarr'), group='1', consolidated=False)
    good = {'asset': '1', 'spatial:transform': [1000.0, 0.0, 300000.0, 0.0, -1000.0, 5100000.0]}
    stale = {'asset': '1', 'spatial:transform': [1000.0, 0.0, 290000.0, 0.0, -1000.0, 5100000.0]}
    parent = {'proj:code': 'EPSG:32632', 'multiscales': {'layout': [good]}}
    with caplog.at_level(logging.WARNING, logger='kazarr_provider.core.model'):
        build_model(level, parent_attrs=parent, level='1')
    assert 'disagrees' not in caplog.text
    with caplog.at_level(logging.WARNING, logger='kazarr_provider.core.model'):
        build_model(level, parent_attrs={**parent, 'multiscales': {'layout': [stale]}}, level='1')
    assert 'multiscales layout spatial:transform disagrees with the coordinates' in caplog.text


@pytest.mark.parametrize('group, band, cell', [('r10m', 'b02', 1000.0), ('r20m', 'b05', 2000.0)])
def test_resolution_groups_inherit_the_root_crs(stores, group, band, cell):
    usable = Catalogue(Location(str(stores))).usable()
    dataset = usable[f's2root.{group}']
    assert dataset.model.crs == CRS.from_epsg(32632) and dataset.model.crs_source == 'parent group proj:code'
    value, _, _ = expected_at(TO_UTM, 6.9, 45.7, 300000.0, cell, 5100000.0, -cell)
    assert position(dataset, 6.9, 45.7)['ranges'][band]['values'][0] == pytest.approx(value, abs=1e-4)


def test_tile_matrix_set_crs_applies_to_its_levels(stores):
    dataset = opened(stores, 'tms3857.zarr')
    assert [level.name for level in dataset.levels] == ['1', '0']          # finest first
    for level in dataset.levels:
        assert level.model.crs == CRS.from_epsg(3857)
        assert level.model.crs_source == 'parent multiscales tile_matrix_set crs'
    assert collection_document('/c', dataset.model, dict(dataset.ds.sizes))['storageCrs'] == \
        'http://www.opengis.net/def/crs/EPSG/0/3857'
    value, _, _ = expected_at(TO_MERCATOR, 3.1, 45.2, 0.0, 10000.0, 6000000.0, -10000.0)
    assert position(dataset, 3.1, 45.2)['ranges']['b04']['values'][0] == pytest.approx(value, abs=1e-4)


def test_a_level_without_any_crs_is_still_refused():
    ds = demo._projected('EPSG:32632', np.arange(3) * 1000.0, np.arange(2) * 1000.0, {}, {})
    with pytest.raises(DatasetUnavailable, match='no CRS is declared'):
        build_model(ds, parent_attrs={'title': 'nothing here'}, level='0')


# 3. grids with no coordinate arrays, placed by their affine transform

def test_spatial_transform_without_coordinates(stores):
    dataset = opened(stores, 'transform_spatial.zarr')
    model = dataset.model
    assert (model.x, model.y) == ('col', 'row') and model.crs == CRS.from_epsg(32632)
    np.testing.assert_allclose(model.x_values, 300000.0 + 1000.0 * (np.arange(120) + 0.5))
    np.testing.assert_allclose(model.y_values, 5100000.0 - 1000.0 * (np.arange(100) + 0.5))
    value, cx, cy = expected_at(TO_UTM, 7.3, 45.6, 300000.0, 1000.0, 5100000.0, -1000.0)
    doc = position(dataset, 7.3, 45.6, datetime='2024-07-02T00:00:00Z', crs=UTM_URI)
    assert doc['domain']['axes']['x']['values'] == [cx] and doc['domain']['axes']['y']['values'] == [cy]
    assert doc['ranges']['b04']['values'][0] == pytest.approx(value + 1.0, abs=1e-4)
    assert dataset.ds['col'].attrs['standard_name'] == 'projection_x_coordinate'


def test_geotransform_without_coordinates(stores):
    dataset = opened(stores, 'transform_geotransform.zarr')
    model = dataset.model
    assert model.crs.equals(CRS.from_epsg(3413), ignore_axis_order=True)
    np.testing.assert_allclose(model.x_values, -2000000.0 + 50000.0 * (np.arange(80) + 0.5))
    np.testing.assert_allclose(model.y_values, 2000000.0 - 50000.0 * (np.arange(60) + 0.5))
    value, _, _ = expected_at(TO_POLAR, 0.0, 80.0, -2000000.0, 50000.0, 2000000.0, -50000.0)
    assert position(dataset, 0.0, 80.0)['ranges']['b04']['values'][0] == pytest.approx(value, abs=1e-4)


def test_rotated_transform_is_refused_clearly(stores, caplog):
    with caplog.at_level(logging.WARNING, logger='kazarr_provider.core.model'):
        with pytest.raises(DatasetUnavailable, match='rotated or sheared'):
            opened(stores, 'transform_rotated.zarr')
    assert 'rotated or sheared' in caplog.text


# 4. a CRS rebuilt from CF parameters is named by its EPSG code when it is that CRS

def test_cf_parameters_crs_is_named_by_its_epsg_code(stores):
    dataset = opened(stores, 'polar_cf.zarr')
    model = dataset.model
    assert model.crs_source == 'grid_mapping crs CF parameters' and model.crs.to_authority() is None
    assert crs_uri(model.crs) == POLAR_URI
    document = collection_document('/c', model, dict(dataset.ds.sizes))
    assert document['storageCrs'] == POLAR_URI and POLAR_URI in document['crs']
    assert parse_crs('EPSG:3413', model) and parse_crs(POLAR_URI, model)
    value, cx, cy = expected_at(TO_POLAR, -30.0, 75.0, -2000000.0, 50000.0, 2000000.0, -50000.0)
    doc = position(dataset, -30.0, 75.0, crs='EPSG:3413')
    assert doc['domain']['axes']['x']['values'] == [cx] and doc['domain']['axes']['y']['values'] == [cy]
    assert doc['domain']['referencing'][0]['system']['id'] == POLAR_URI
    assert doc['ranges']['b04']['values'][0] == pytest.approx(value, abs=1e-4)


def test_only_an_equivalent_crs_gets_the_code():
    cf = {k: v for k, v in demo.POLAR_CF.items()}
    assert same_crs('EPSG:3413', CRS.from_cf(cf)) and not same_crs('EPSG:3411', CRS.from_cf(cf))
    moved = CRS.from_cf({**cf, 'straight_vertical_longitude_from_pole': -40.0})
    assert crs_uri(moved) is None and not same_crs('EPSG:3413', moved)
    # a sphere: pyproj offers EPSG:3411 (Hughes ellipsoid) at low confidence, which is not the same CRS
    sphere = {k: v for k, v in cf.items() if k not in ('semi_major_axis', 'inverse_flattening')}
    assert crs_uri(CRS.from_cf({**sphere, 'earth_radius': 6371000.0})) is None
    utm = CRS.from_cf({k: v for k, v in CRS.from_epsg(32632).to_cf().items() if k != 'crs_wkt'})
    assert crs_uri(utm) == UTM_URI
    assert crs_uri(CRS.from_cf({'grid_mapping_name': 'latitude_longitude'})) == \
        'http://www.opengis.net/def/crs/OGC/1.3/CRS84'
