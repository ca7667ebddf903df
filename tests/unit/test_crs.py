"""CRS detection in the GeoZarr order, and the transform cross-check."""
from __future__ import annotations

import numpy as np
import pytest
from pyproj import CRS

from kazarr_provider.core.crs import PROJ_UUID, affine_from_attrs, check_transform, detect_crs

UTM32 = CRS.from_epsg(32632)
POLAR = CRS.from_epsg(3413)


def test_proj_code_on_the_array_wins_over_the_group():
    found = detect_crs({'proj:code': 'EPSG:32632'}, {'proj:code': 'EPSG:3413',
                                                       'zarr_conventions': [{'uuid': PROJ_UUID}]}, {}, False)
    assert found.crs == UTM32 and 'array' in found.source


def test_proj_on_the_parent_group_with_declared_convention():
    found = detect_crs({}, {'zarr_conventions': [{'uuid': PROJ_UUID, 'name': 'proj:'}],
                            'proj:wkt2': UTM32.to_wkt()}, {}, False)
    assert found.crs == UTM32 and found.source == 'group proj:wkt2'


def test_proj_projjson():
    found = detect_crs({'proj:projjson': POLAR.to_json_dict()}, {}, {}, False)
    assert found.crs == POLAR


@pytest.mark.parametrize('mapping', [
    {'crs_wkt': UTM32.to_wkt()},
    {'spatial_ref': UTM32.to_wkt()},
    UTM32.to_cf(),
])
def test_cf_grid_mapping(mapping):
    found = detect_crs({'grid_mapping': 'crs'}, {}, {'crs': mapping}, False)
    assert found.crs.equals(UTM32, ignore_axis_order=True)


@pytest.mark.parametrize('gdal', [{'url': 'http://www.opengis.net/def/crs/EPSG/0/3413'}, {'wkt': POLAR.to_wkt()},
                                  {'projjson': POLAR.to_json_dict()}])
def test_gdal_crs(gdal):
    found = detect_crs({'_CRS': gdal}, {}, {}, False)
    assert found.crs.equals(POLAR, ignore_axis_order=True)


def test_old_proj_epsg_and_cf_lonlat_fallback():
    assert detect_crs({'proj:epsg': 3413}, {}, {}, False).crs == POLAR
    assert detect_crs({}, {}, {}, True).crs.to_string() == 'OGC:CRS84'
    assert detect_crs({}, {}, {}, False) is None


def test_unreadable_crs_is_skipped_for_the_next_source():
    found = detect_crs({'proj:code': 'EPSG:999999'}, {'proj:epsg': 32632}, {}, False)
    assert found.crs == UTM32


def test_transform_sources_and_cross_check():
    x = 500000.0 + 10.0 * (np.arange(100) + 0.5)
    y = 5000000.0 - 10.0 * (np.arange(80) + 0.5)
    good = (10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0)
    transform, source = affine_from_attrs({'spatial:transform': list(good)}, {}, {})
    assert transform == good and source == 'spatial:transform'
    assert check_transform(transform, x, y, source, 'b04') is None
    shifted = (10.0, 0.0, 500005.0, 0.0, -10.0, 4999995.0)
    assert 'half a pixel' in check_transform(shifted, x, y, source, 'b04')
    stale = (20.0, 0.0, 400000.0, 0.0, -20.0, 5000000.0)
    assert 'disagrees' in check_transform(stale, x, y, source, 'b04')
    transform, source = affine_from_attrs({'grid_mapping': 'crs'}, {}, {'crs': {'GeoTransform': '500000 10 0 5000000 0 -10'}})
    assert transform == good and source == 'GeoTransform'


def test_parent_group_proj_comes_after_the_array_and_its_group():
    parent = {'zarr_conventions': [{'uuid': PROJ_UUID}], 'proj:code': 'EPSG:32632'}
    found = detect_crs({}, {}, {}, False, parent)
    assert found.crs == UTM32 and found.source == 'parent group proj:code'
    assert detect_crs({}, {'proj:code': 'EPSG:3413'}, {}, False, parent).crs == POLAR


def test_tile_matrix_set_crs_is_the_last_declaration():
    inherited = ('http://www.opengis.net/def/crs/EPSG/0/3857', 'parent multiscales tile_matrix_set crs')
    assert detect_crs({}, {}, {}, False, {}, inherited).crs == CRS.from_epsg(3857)
    assert detect_crs({'proj:epsg': 3413}, {}, {}, False, {}, inherited).crs == POLAR
    # projected metres cannot be CF latitude/longitude coordinates: the coordinates win
    assert detect_crs({}, {}, {}, True, {}, inherited).crs.to_string() == 'OGC:CRS84'


def test_layout_item_transform_comes_first():
    layout = {'spatial:transform': [20.0, 0.0, 400000.0, 0.0, -20.0, 5000000.0]}
    transform, source = affine_from_attrs({'spatial:transform': [10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0]},
                                          {}, {}, layout)
    assert transform == (20.0, 0.0, 400000.0, 0.0, -20.0, 5000000.0)
    assert source == 'multiscales layout spatial:transform'
