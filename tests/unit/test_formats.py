"""Encoders from hand-built blocks: no storage, no selection, no HTTP.

The model comes from a tiny in-memory dataset (units, CRS, calendar); the blocks are written by hand with
values from a formula, so each encoder is checked against the formula, not against our selection code.
"""
from __future__ import annotations

import io

import numpy as np
import orjson
import pandas as pd
import pytest
import xarray as xr

from helpers import check
from kazarr_provider.core.blocks import Block
from kazarr_provider.core.model import build_model
from kazarr_provider.formats import ENCODERS, to_covjson

T0 = 1704067200.0      # 2024-01-01T00:00:00Z
LON = np.array([10.0, 11.0, 12.0])
LAT = np.array([40.0, 41.0])
TIMES = T0 + 3600.0 * np.arange(2)


def field(t, lat, lon):
    return 100.0 * (t - T0) / 3600.0 + 10.0 * lat + lon


@pytest.fixture(scope='module')
def model():
    ds = xr.Dataset(
        {'v': (('time', 'lat', 'lon'), np.zeros((2, 2, 3), 'float32'), {'units': 'K', 'long_name': 'a field'})},
        coords={'time': pd.to_datetime(TIMES, unit='s'),
                'lat': ('lat', LAT, {'units': 'degrees_north', 'standard_name': 'latitude'}),
                'lon': ('lon', LON, {'units': 'degrees_east', 'standard_name': 'longitude'})})
    return build_model(ds)


def grid_block(with_gap: bool = False) -> Block:
    t, lat, lon = np.meshgrid(TIMES, LAT, LON, indexing='ij')
    values = field(t, lat, lon)
    if with_gap:
        values[:, 0, 0] = np.nan            # a cell outside the region: missing at every step
    return Block('grid', {'t': TIMES, 'y': LAT, 'x': LON}, {'v': values})


def points_block() -> Block:
    xy = np.array([[10.0, 40.0], [12.0, 41.0]])
    values = np.stack([field(TIMES, y, x) for x, y in xy], axis=1)      # (t, point)
    return Block('points', {'t': TIMES, 'point': np.arange(2)}, {'v': values}, point_xy=xy)


def test_covjson_grid_is_row_major_t_y_x(model):
    document = check(orjson.loads(to_covjson.encode(to_covjson.build([grid_block()], model))))
    assert document['domain']['domainType'] == 'Grid'
    values = document['ranges']['v']
    assert values['axisNames'] == ['t', 'y', 'x'] and values['shape'] == [2, 2, 3]
    expected = [field(t, y, x) for t in TIMES for y in LAT for x in LON]
    assert values['values'] == pytest.approx(expected)
    assert document['domain']['axes']['t']['values'] == ['2024-01-01T00:00:00Z', '2024-01-01T01:00:00Z']
    assert document['parameters']['v']['unit']['symbol'] == 'K'


def test_covjson_points_are_a_multipoint_series(model):
    document = check(orjson.loads(to_covjson.encode(to_covjson.build([points_block()], model, multi=True))))
    assert document['domain']['domainType'] == 'MultiPointSeries'
    assert document['domain']['axes']['composite']['values'] == [[10.0, 40.0], [12.0, 41.0]]
    assert document['ranges']['v']['values'] == pytest.approx(
        [field(t, y, x) for t in TIMES for x, y in ((10.0, 40.0), (12.0, 41.0))])


def _text(body) -> bytes:
    return body if isinstance(body, bytes) else b''.join(body)


def test_csv_has_a_row_per_cell_and_step_and_skips_empty_cells(model):
    _media, encode = ENCODERS['CSV']
    frame = pd.read_csv(io.BytesIO(_text(encode([grid_block(with_gap=True)], model))))
    assert 'v [K]' in frame.columns and len(frame) == 2 * (2 * 3 - 1)
    for row in frame.itertuples(index=False):
        seconds = pd.Timestamp(row.datetime).timestamp()
        assert row[frame.columns.get_loc('v [K]')] == pytest.approx(field(seconds, row.latitude, row.longitude))


def test_geojson_points_carry_their_series(model):
    _media, encode = ENCODERS['GeoJSON']
    document = orjson.loads(_text(encode([points_block()], model, True)))
    assert document['type'] == 'FeatureCollection' and len(document['features']) == 2
    for feature in document['features']:
        x, y = feature['geometry']['coordinates']
        values = feature['properties']['v']
        assert values == pytest.approx([field(t, y, x) for t in TIMES])


def test_netcdf_grid_round_trips_with_cf_attributes(model, tmp_path):
    _media, encode = ENCODERS['NetCDF']
    path = tmp_path / 'answer.nc'
    path.write_bytes(_text(encode([grid_block()], model)))
    with xr.open_dataset(path, engine='scipy') as ds:
        variable = next(v for v in ds.data_vars.values() if v.attrs.get('units') == 'K')
        assert variable.shape == (2, 2, 3)
        t, lat, lon = np.meshgrid(TIMES, LAT, LON, indexing='ij')
        np.testing.assert_allclose(variable.values, field(t, lat, lon), rtol=1e-6)
        assert ds.attrs['Conventions'].startswith('CF-')


def test_the_validator_refuses_what_the_standard_refuses(model):
    good = orjson.loads(to_covjson.encode(to_covjson.build([grid_block()], model)))
    bad_shape = orjson.loads(orjson.dumps(good))
    bad_shape['ranges']['v']['shape'] = [2, 3, 2]
    bad_axis = orjson.loads(orjson.dumps(good))
    bad_axis['ranges']['v']['axisNames'] = ['t', 'lat', 'x']
    no_domain = {k: v for k, v in good.items() if k != 'domain'}
    extra_axis = orjson.loads(orjson.dumps(good))
    extra_axis['domain']['axes']['band'] = {'values': [1]}
    for document in (bad_shape, bad_axis, no_domain, extra_axis):
        with pytest.raises(Exception):
            check(document)
