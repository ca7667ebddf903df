"""GeoTIFF encoder from hand-built grid blocks, read back with rasterio and checked against a formula.

Every pixel value is compared with the formula at the pixel's centre as the file's own transform
places it, so orientation (north-up), georeferencing and values are checked together.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from pyproj import CRS
from rasterio.crs import CRS as RioCRS
from rasterio.io import MemoryFile
from rasterio.transform import Affine

from kazarr_provider.core.blocks import Block
from kazarr_provider.core.model import build_model
from kazarr_provider.formats import ENCODERS, to_geotiff

T0 = 1704067200.0      # 2024-01-01T00:00:00Z
STEP = 0.25            # binary-exact spacing: the edges are exact in floating point
NX, NY = 300, 270      # more than one 256 x 256 tile each way
LON = -10.0 + STEP * (np.arange(NX) + 0.5)     # cell centres; edges -10 .. 65
LAT = 20.0 + STEP * (np.arange(NY) + 0.5)      # ascending; edges 20 .. 87.5
WEST, NORTH = -10.0, 20.0 + STEP * NY


def temperature(lon, lat):
    return 280.0 + 0.5 * lat + 0.01 * lon + np.sin(np.radians(3 * lon))


def humidity(lon, lat):
    return 100.0 * np.cos(np.radians(lat)) + 0.1 * lon


def category(lon, lat):
    return (np.floor(lon) + 100 * np.floor(lat / 10)).astype('int16')


@pytest.fixture(scope='module')
def model():
    zeros = np.zeros((1, 2, 2), 'float32')
    ds = xr.Dataset(
        {'temp': (('time', 'lat', 'lon'), zeros, {'units': 'K', 'long_name': 'air temperature',
                                                  'standard_name': 'air_temperature'}),
         'hum': (('time', 'lat', 'lon'), zeros.astype('float64'), {'units': '%', 'long_name': 'humidity'}),
         'cat': (('lat', 'lon'), np.zeros((2, 2), 'int16'), {'_FillValue': np.int16(-999), 'long_name': 'class'}),
         'flag': (('lat', 'lon'), np.zeros((2, 2), 'int16'), {'long_name': 'flag'}),
         'packed': (('lat', 'lon'), np.zeros((2, 2), 'int16'),
                    {'scale_factor': 0.01, 'add_offset': 273.15, '_FillValue': np.int16(-32768), 'units': 'K'}),
         'member_v': (('member', 'lat', 'lon'), np.zeros((2, 2, 2), 'float32'), {})},
        coords={'time': pd.to_datetime([T0], unit='s'),
                'member': ('member', [1, 2]),
                'lat': ('lat', [0.0, 1.0], {'units': 'degrees_north', 'standard_name': 'latitude'}),
                'lon': ('lon', [0.0, 1.0], {'units': 'degrees_east', 'standard_name': 'longitude'})})
    return build_model(ds)


def lonlat_block(descending: bool = False, with_time: bool = False, gap: bool = False) -> Block:
    lat = LAT[::-1] if descending else LAT
    lon2, lat2 = np.meshgrid(LON, lat)
    values = {'temp': temperature(lon2, lat2).astype('float32'), 'hum': humidity(lon2, lat2)}
    if gap:
        values['temp'][lat2 > 80.0] = np.nan
    axes = {'y': lat, 'x': LON}
    if with_time:
        axes = {'t': np.array([T0]), **axes}
        values = {name: array[None] for name, array in values.items()}
    return Block('grid', axes, values)


def read(data: bytes) -> dict:
    with MemoryFile(data) as memory, memory.open() as src:
        return {'profile': dict(src.profile), 'transform': src.transform, 'crs': src.crs, 'count': src.count,
                'shape': (src.height, src.width), 'dtypes': src.dtypes, 'nodata': src.nodata,
                'descriptions': src.descriptions, 'units': src.units, 'tags': src.tags(),
                'band_tags': [src.tags(i) for i in range(1, src.count + 1)],
                'structure': src.tags(ns='IMAGE_STRUCTURE'), 'block_shapes': src.block_shapes,
                'scales': src.scales, 'offsets': src.offsets, 'data': src.read()}


def pixel_centres(transform: Affine, shape) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    return transform @ (cols + 0.5, rows + 0.5)


def test_lonlat_grid_round_trips_north_up(model):
    out = read(to_geotiff.encode([lonlat_block()], model))
    assert out['shape'] == (NY, NX) and out['count'] == 2
    assert out['transform'] == Affine(STEP, 0.0, WEST, 0.0, -STEP, NORTH)      # exactly the cell edges
    assert out['crs'] == RioCRS.from_epsg(4326)
    assert out['descriptions'] == ('temp', 'hum')
    assert out['units'] == ('K', '%')
    assert out['band_tags'][0]['long_name'] == 'air temperature' and out['band_tags'][0]['units'] == 'K'
    assert out['band_tags'][0]['standard_name'] == 'air_temperature'
    # float32 and float64 fields share one type: float64, NaN no-data
    assert out['dtypes'] == ('float64', 'float64') and np.isnan(out['nodata'])
    lon, lat = pixel_centres(out['transform'], out['shape'])
    assert lat[0, 0] > lat[-1, 0]                                                # row 0 is the north
    np.testing.assert_allclose(out['data'][0], temperature(lon, lat), rtol=1e-6)
    np.testing.assert_allclose(out['data'][1], humidity(lon, lat), rtol=1e-12)


def test_descending_and_ascending_latitudes_give_the_same_file_content(model):
    up = read(to_geotiff.encode([lonlat_block()], model))
    down = read(to_geotiff.encode([lonlat_block(descending=True)], model))
    assert down['transform'] == up['transform']
    np.testing.assert_array_equal(down['data'], up['data'])


def test_descending_longitudes_are_turned_west_to_east(model):
    lon2, lat2 = np.meshgrid(LON[::-1], LAT)
    block = Block('grid', {'y': LAT, 'x': LON[::-1]}, {'hum': humidity(lon2, lat2)})
    out = read(to_geotiff.encode([block], model))
    assert out['transform'] == Affine(STEP, 0.0, WEST, 0.0, -STEP, NORTH)
    lon, lat = pixel_centres(out['transform'], out['shape'])
    np.testing.assert_allclose(out['data'][0], humidity(lon, lat), rtol=1e-12)


def test_float32_fields_stay_float32_with_nan_nodata_preserved(model):
    block = lonlat_block(gap=True)
    block.values.pop('hum')
    out = read(to_geotiff.encode([block], model))
    assert out['dtypes'] == ('float32',) and np.isnan(out['nodata'])
    lon, lat = pixel_centres(out['transform'], out['shape'])
    data = out['data'][0]
    assert np.array_equal(np.isnan(data), lat > 80.0)
    np.testing.assert_allclose(data[lat <= 80.0], temperature(lon, lat)[lat <= 80.0], rtol=1e-6)


def test_profile_is_tiled_deflated_pixel_is_area(model):
    out = read(to_geotiff.encode([lonlat_block()], model))
    assert out['profile']['tiled'] and out['block_shapes'] == [(256, 256)] * 2
    assert out['structure']['COMPRESSION'] == 'DEFLATE' and out['structure']['PREDICTOR'] == '3'
    assert out['tags']['AREA_OR_POINT'] == 'Area'
    assert to_geotiff.MEDIA_TYPE == 'image/tiff; application=geotiff'
    assert 'GeoTIFF' not in ENCODERS                        # offered by the Coverages API only


def test_singleton_time_is_squeezed_and_named(model):
    out = read(to_geotiff.encode([lonlat_block(with_time=True)], model))
    assert out['shape'] == (NY, NX) and out['count'] == 2
    assert out['band_tags'][0]['time'] == '2024-01-01T00:00:00Z'


def test_fields_order_the_bands_across_blocks(model):
    lon2, lat2 = np.meshgrid(LON, LAT)
    timed = lonlat_block(with_time=True)
    flat = Block('grid', {'y': LAT, 'x': LON}, {'flag': np.ones((NY, NX), 'int16')})
    out = read(to_geotiff.encode([timed, flat], model, fields=['hum', 'flag', 'temp']))
    assert out['descriptions'] == ('hum', 'flag', 'temp')
    lon, lat = pixel_centres(out['transform'], out['shape'])
    np.testing.assert_allclose(out['data'][0], humidity(lon, lat), rtol=1e-12)
    assert np.all(out['data'][1] == 1)
    np.testing.assert_allclose(out['data'][2], temperature(lon, lat), rtol=1e-6)
    del lon2, lat2


def test_integer_field_keeps_its_type_and_declared_fill(model):
    lon2, lat2 = np.meshgrid(LON, LAT)
    values = category(lon2, lat2)
    values[:5, :7] = -999
    out = read(to_geotiff.encode([Block('grid', {'y': LAT, 'x': LON}, {'cat': values})], model))
    assert out['dtypes'] == ('int16',) and out['nodata'] == -999
    assert out['structure']['PREDICTOR'] == '2'
    lon, lat = pixel_centres(out['transform'], out['shape'])
    expected = category(lon, lat)
    data = out['data'][0]
    missing = data == -999
    assert missing.sum() == 5 * 7 and np.all(missing[-5:, :7])               # the southern rows, flipped
    np.testing.assert_array_equal(data[~missing], expected[~missing])


def test_integer_and_float_fields_share_a_float_type_with_fill_as_nan(model):
    lon2, lat2 = np.meshgrid(LON, LAT)
    values = category(lon2, lat2)
    values[0, 0] = -999
    block = Block('grid', {'y': LAT, 'x': LON}, {'cat': values,
                                                 'temp': temperature(lon2, lat2).astype('float32')})
    out = read(to_geotiff.encode([block], model))
    assert out['dtypes'] == ('float32', 'float32') and np.isnan(out['nodata'])
    lon, lat = pixel_centres(out['transform'], out['shape'])
    data = out['data'][0]
    assert np.isnan(data[-1, 0]) and np.isnan(data).sum() == 1
    ok = ~np.isnan(data)
    np.testing.assert_array_equal(data[ok], category(lon, lat)[ok])


def test_unpacked_floats_stay_floats_and_packed_integers_carry_scale_and_offset(model):
    lon2, lat2 = np.meshgrid(LON, LAT)
    kelvin = temperature(lon2, lat2)
    unpacked = Block('grid', {'y': LAT, 'x': LON}, {'packed': kelvin.astype('float32')})
    out = read(to_geotiff.encode([unpacked], model))
    assert out['dtypes'] == ('float32',) and out['scales'] == (1.0,) and out['offsets'] == (0.0,)
    raw = np.round((kelvin - 273.15) / 0.01).astype('int16')
    out = read(to_geotiff.encode([Block('grid', {'y': LAT, 'x': LON}, {'packed': raw})], model))
    assert out['dtypes'] == ('int16',) and out['nodata'] == -32768
    assert out['scales'] == (0.01,) and out['offsets'] == (273.15,)
    lon, lat = pixel_centres(out['transform'], out['shape'])
    np.testing.assert_allclose(out['data'][0] * 0.01 + 273.15, temperature(lon, lat), atol=0.005 + 1e-9)


def test_integer_fields_with_different_fills_become_float(model):
    lon2, lat2 = np.meshgrid(LON, LAT)
    cat, flag = category(lon2, lat2), np.zeros((NY, NX), 'int16')
    cat[0, 0] = -999
    flag[0, 1] = -999          # 'flag' declares no fill: its -999 is a value, not missing
    out = read(to_geotiff.encode([Block('grid', {'y': LAT, 'x': LON}, {'cat': cat, 'flag': flag})], model))
    assert out['dtypes'] == ('float32', 'float32') and np.isnan(out['nodata'])
    assert np.isnan(out['data'][0][-1, 0]) and np.isnan(out['data'][0]).sum() == 1
    assert out['data'][1][-1, 1] == -999 and not np.isnan(out['data'][1]).any()


@pytest.fixture(scope='module')
def utm_model():
    x = 300000.0 + 1000.0 * (np.arange(4) + 0.5)
    y = 5100000.0 - 1000.0 * (np.arange(3) + 0.5)
    return build_model(xr.Dataset(
        {'v': (('y', 'x'), np.zeros((3, 4), 'float32'), {'grid_mapping': 'utm', 'units': 'm'}),
         'utm': ((), 0, {'crs_wkt': CRS.from_epsg(32632).to_wkt()})},
        coords={'x': ('x', x, {'axis': 'X'}), 'y': ('y', y, {'axis': 'Y'})}))


def projected(x, y):
    return 0.001 * x - 0.002 * (y - 5_000_000.0)


def test_projected_native_block_is_georeferenced_in_its_own_crs(utm_model):
    x = 300000.0 + 30.0 * (np.arange(400) + 0.5)           # 30 m cells, edges on whole metres
    y = 5100000.0 - 30.0 * (np.arange(350) + 0.5)          # descending northings
    x2, y2 = np.meshgrid(x, y)
    block = Block('grid', {'y': y, 'x': x}, {'v': projected(x2, y2)}, native_xy=True)
    out = read(to_geotiff.encode([block], utm_model))
    assert out['crs'] == RioCRS.from_epsg(32632)
    assert out['transform'] == Affine(30.0, 0.0, 300000.0, 0.0, -30.0, 5100000.0)
    cx, cy = pixel_centres(out['transform'], out['shape'])
    np.testing.assert_allclose(out['data'][0], projected(cx, cy), rtol=1e-12)
    # the same grid handed over in CRS84 would be georeferenced in EPSG:4326
    lonlat = Block('grid', {'y': LAT, 'x': LON}, {'v': np.zeros((NY, NX), 'float32')})
    assert read(to_geotiff.encode([lonlat], utm_model))['crs'] == RioCRS.from_epsg(4326)


def test_the_callers_crs_and_transform_win(model):
    x = np.arange(4) * 100.0 + 50.0
    y = np.arange(3) * 100.0 + 50.0
    x2, y2 = np.meshgrid(x, y)
    block = Block('grid', {'y': y, 'x': x}, {'hum': x2 + 10 * y2})
    transform = Affine(100.0, 0.0, 0.0, 0.0, -100.0, 300.0)
    out = read(to_geotiff.encode([block], model, crs='EPSG:3857', transform=transform))
    assert out['crs'] == RioCRS.from_epsg(3857) and out['transform'] == transform
    cx, cy = pixel_centres(transform, out['shape'])
    np.testing.assert_array_equal(out['data'][0], cx + 10 * cy)
    # a single cell has no spacing of its own: the caller's transform gives it
    one = Block('grid', {'y': np.array([50.0]), 'x': np.array([50.0])}, {'hum': np.array([[7.0]])})
    out = read(to_geotiff.encode([one], model, crs=CRS.from_epsg(4326),
                                 transform=(100.0, 0.0, 0.0, 0.0, -100.0, 100.0)))
    assert out['shape'] == (1, 1) and out['data'][0, 0, 0] == 7.0


@pytest.mark.parametrize('block, message', [
    (Block('points', {'point': np.arange(2)}, {'hum': np.zeros(2)}, point_xy=np.zeros((2, 2))), 'grid'),
    (Block('grid', {'y': LAT[:3], 'x': np.array([0.0, 1.0, 3.0])}, {'hum': np.zeros((3, 3))}), 'regularly'),
    (Block('grid', {'t': np.array([T0, T0 + 3600]), 'y': LAT[:2], 'x': LON[:2]}, {'hum': np.zeros((2, 2, 2))}),
     'time has 2 values'),
    (Block('grid', {'member': np.array([1, 2]), 'y': LAT[:2], 'x': LON[:2]}, {'member_v': np.zeros((2, 2, 2))}),
     'member has 2 values'),
    (Block('grid', {'y': LAT[:1], 'x': LON[:2]}, {'hum': np.zeros((1, 2))}), 'single cell'),
])
def test_refusals(model, block, message):
    with pytest.raises(ValueError, match=message):
        to_geotiff.encode([block], model)


def test_refuses_blocks_on_different_grids_and_rotated_transforms(model):
    a = Block('grid', {'y': LAT[:2], 'x': LON[:2]}, {'hum': np.zeros((2, 2))})
    b = Block('grid', {'y': LAT[1:3], 'x': LON[:2]}, {'temp': np.zeros((2, 2), 'float32')})
    with pytest.raises(ValueError, match='different grids'):
        to_geotiff.encode([a, b], model)
    with pytest.raises(ValueError, match='north-up'):
        to_geotiff.encode([a], model, transform=Affine(1.0, 0.0, 0.0, 0.0, 1.0, 0.0))
