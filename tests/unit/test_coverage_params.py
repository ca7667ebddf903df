"""The OGC API – Coverages request grammar (api/coverages): every case parsed, every refusal a 400 naming
its parameter, and the forms GDAL's OGCAPI driver and OWSLib send. No server, tiny in-memory models."""
from __future__ import annotations

import dataclasses
import re
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pandas as pd
import pytest

from helpers import Recording
import xarray as xr
from werkzeug.datastructures import MultiDict

from kazarr_provider import demo
from kazarr_provider.api.coverages.axes import axis_table, coverage_axes
from kazarr_provider.api.coverages.declarations import (GEOGRAPHIC_AXES, PROJECTED_AXES, SCALING_PARAMETERS,
                                                        TIME_ALIASES, VERTICAL_ALIASES)
from kazarr_provider.api.coverages.grammar import parse_time
from kazarr_provider.api.coverages.params import parse_coverage_request, parse_prefer
from kazarr_provider.api.declarations import PARAMS
from kazarr_provider.core.model import build_model
from kazarr_provider.data.catalogue import get_dataset
from kazarr_provider.errors import InvalidParameter

DECLARED = PARAMS['coverages']
QUERY_PARAMS = [name for name, param in DECLARED.items() if not param.header]
DAY = 86400.0
JUL1 = pd.Timestamp('2024-07-01T00:00:00Z').timestamp()
EPS = 1e-6


def _geo_ds(time_dim='time', lat='lat', lon='lon'):
    return xr.Dataset(
        {'temp': ((time_dim, 'pressure', lat, lon), np.zeros((3, 3, 4, 5), 'float32')),
         'precip': ((time_dim, 'number', lat, lon), np.zeros((3, 3, 4, 5), 'float32')),
         'refl': (('band', lat, lon), np.zeros((3, 4, 5), 'float32'))},
        coords={time_dim: pd.date_range('2024-07-01', periods=3, freq='D'),
                'pressure': ('pressure', [1000.0, 850.0, 500.0], {'units': 'hPa', 'positive': 'down'}),
                'number': [0, 1, 2], 'band': ['B02', 'B03', 'B04'],
                lat: (lat, [40.0, 41.0, 42.0, 43.0], {'units': 'degrees_north'}),
                lon: (lon, [10.0, 11.0, 12.0, 13.0, 14.0], {'units': 'degrees_east'})})


GEO = build_model(_geo_ds())


@pytest.fixture(scope='module')
def utm(tmp_path_factory):
    path = tmp_path_factory.mktemp('cov') / 'utm.zarr'
    demo.make_utm(str(path))
    return get_dataset(str(path)).model


def parse(params, model=GEO, prefer=None):
    return parse_coverage_request(params, model, prefer)


def refused(params, parameter, model=GEO, prefer=None) -> str:
    with pytest.raises(InvalidParameter) as caught:
        parse_coverage_request(params, model, prefer)
    assert caught.value.parameter == parameter, caught.value.description
    assert caught.value.description.startswith(f'{parameter}: ')
    return caught.value.description


# ---- subset grammar -------------------------------------------------------------------------------------

def test_trim_slice_multislice_and_open_ends():
    r = parse({'subset': 'Lat(40:42),Lon(10.5:*),pressure(850, 500),number(1),band("B03")'})
    assert r.y.interval == (40.0, 42.0) and r.y.kind == 'trim' and r.y.dim == 'lat' and r.y.name == 'Lat'
    assert r.x.interval == (10.5, None) and r.x.role == 'x'
    assert r.vertical.values == (850.0, 500.0) and r.vertical.kind == 'multi-slice'
    assert r.custom['number'].values == (1.0,) and r.custom['number'].kind == 'slice'
    assert r.custom['band'].values == ('B03',)
    assert r.time is None and r.sliced == ('number', 'band')
    assert r.subset_crs.name == 'CRS84' and r.subset_crs.native and r.spatial_from == 'subset'
    assert parse({'subset': 'Lat(*:41)'}).y.interval == (None, 41.0)
    assert parse({'subset': 'Lat(41)'}).y.kind == 'slice'


def test_nothing_asked_is_everything():
    r = parse({})
    assert r.subsets == () and r.subset_crs is None and r.scaling is None and not r.strict
    assert r.fields == ('temp', 'precip', 'refl') and r.crs.name == 'CRS84'


def test_time_star_is_the_latest_step():
    assert parse({'subset': 'time(*)'}).time.values == (JUL1 + 2 * DAY,)
    assert parse({'subset': 'time("2024-07-02":*)'}).time.interval == (JUL1 + DAY, None)


@pytest.mark.parametrize('text', ['time("2024-07-02")', 'time(2024-07-02)', 'time("2024-07-02T00:00:00Z")',
                                  'time(2024-07-02T00:00:00Z)', 't("2024-07-02T02:00:00+02:00")',
                                  'T(2024-07-02T00:00)', 'Time("2024-07-02T00")', 'time(" 2024-07-02 ")'])
def test_time_instants_quoted_or_not(text):
    assert parse({'subset': text}).time.values == (JUL1 + DAY,)


@pytest.mark.parametrize('text, interval', [
    ('time("2024-07-01":"2024-07-02")', (JUL1, JUL1 + 2 * DAY - EPS)),      # the end covers its whole day
    ('time(2024-07-01:2024-07-02)', (JUL1, JUL1 + 2 * DAY - EPS)),          # OWSLib: unquoted
    ('time(2024-07-01T00:00:00Z:2024-07-02T00:00:00Z)', (JUL1, JUL1 + DAY + 1 - EPS)),
    ('time("2024-07-01T00:00:00.5Z":"2024-07-02T06:00:00.25Z")', (JUL1 + 0.5, JUL1 + DAY + 6 * 3600 + 0.25)),
    ('time("2024-07":"2024-07")', (JUL1, JUL1 + 31 * DAY - EPS)),
    ('time("2023-12":"2023")', (JUL1 - 213 * DAY, JUL1 - 182 * DAY - EPS)),
    ('time(*:"2024-07-01T24:00:00Z")', (None, JUL1 + DAY - EPS)),            # hour 24: up to the next day
    ('time("2024-07-01T24:00":*)', (JUL1 + DAY, None)),
    ('time("2024-07-01T06":"2024-07-01T06:30")', (JUL1 + 6 * 3600, JUL1 + 6.5 * 3600 + 60 - EPS)),
])
def test_time_intervals_and_reduced_precision(text, interval):
    got = parse({'subset': text}).time.interval
    assert got[0] == pytest.approx(interval[0], abs=1e-7) if interval[0] is not None else got[0] is None
    assert got[1] == pytest.approx(interval[1], abs=1e-7) if interval[1] is not None else got[1] is None


def test_time_in_a_non_standard_calendar():
    times = xr.date_range('2001-02-27', periods=3, freq='D', calendar='noleap', use_cftime=True)
    model = build_model(xr.Dataset({'v': (('time', 'lat', 'lon'), np.zeros((3, 2, 2)))}, coords={
        'time': times, 'lat': ('lat', [0.0, 1.0], {'units': 'degrees_north'}),
        'lon': ('lon', [0.0, 1.0], {'units': 'degrees_east'})}))
    assert model.calendar == 'noleap'
    feb28 = parse({'subset': 'time("2001-02-28")'}, model).time.values[0]
    assert parse({'subset': 'time("2001-03-01")'}, model).time.values[0] - feb28 == DAY
    assert parse({'subset': 'time("2001-02":"2001-02")'}, model).time.interval[1] == pytest.approx(
        parse_time('2001-03-01', 'noleap') - EPS)
    assert 'noleap' in refused({'subset': 'time("2000-02-29")'}, 'subset', model)


def test_text_and_numeric_dimensions_name_existing_values():
    assert parse({'subset': 'band("B02","B04")'}).custom['band'].values == ('B02', 'B04')
    assert parse({'subset': 'band(B03)'}).custom['band'].values == ('B03',)
    assert parse({'subset': 'band("B02":"B03")'}).custom['band'].interval == ('B02', 'B03')
    assert parse({'subset': 'number(0:1.5)'}).custom['number'].interval == (0.0, 1.5)
    assert 'B09' in refused({'subset': 'band("B09")'}, 'subset')
    refused({'subset': 'band("B03":"B02")'}, 'subset')
    assert 'no value 1.5' in refused({'subset': 'number(1.5)'}, 'subset')


def test_vertical_axis_by_its_name_or_z():
    assert parse({'subset': 'pressure(850)'}).vertical.values == (850.0,)
    assert parse({'subset': 'z(500:1000)'}).vertical.interval == (500.0, 1000.0)
    assert parse({'subset': 'Z(500)'}).vertical.name == 'pressure'
    assert 'h' not in axis_table(coverage_axes(GEO))


@pytest.mark.parametrize('repeated, joined', [
    (['Lat(40:42)', 'Lon(10:12)'], 'Lat(40:42),Lon(10:12)'),
    (['Lat(40:42),Lon(10:12)', 'time("2024-07-01")', 'pressure(500)'],
     'Lat(40:42), Lon(10:12) ,time("2024-07-01"),pressure(500)'),
    (['band("B02","B03")', 'number(0,2)'], 'band("B02","B03"),number(0,2)'),
])
def test_repeated_and_comma_joined_subsets_mean_the_same(repeated, joined):
    a, b = parse({'subset': repeated}), parse({'subset': joined})
    assert [(s.dim, s.interval, s.values) for s in a.subsets] == [(s.dim, s.interval, s.values) for s in b.subsets]
    multi = parse(MultiDict([('subset', value) for value in repeated]))
    assert [(s.dim, s.interval, s.values) for s in multi.subsets] == [(s.dim, s.interval, s.values)
                                                                      for s in a.subsets]


@pytest.mark.parametrize('subset', [['Lat(40:41)', 'Lat(42)'], ['Lat(40:41),latitude(41)'],
                                    ['time(*)', 't("2024-07-01")'], ['pressure(500)', 'z(850)']])
def test_the_same_axis_twice_is_refused(subset):
    assert 'twice' in refused({'subset': subset}, 'subset')


@pytest.mark.parametrize('name, alias', [(n, a) for n, aliases in GEOGRAPHIC_AXES.items() for a in (n,) + aliases])
def test_geographic_aliases(name, alias):
    r = parse({'subset': f'{alias}(41)'})
    got = r.x if name == 'Lon' else r.y
    assert got.name == name and got.values == (41.0,)


@pytest.mark.parametrize('name, alias', [(n, a) for n, aliases in PROJECTED_AXES.items() for a in (n,) + aliases])
def test_projected_aliases(utm, name, alias):
    r = parse({'subset': f'{alias}(5050000)'}, utm)
    got = r.x if name == 'E' else r.y
    assert got.name == name and got.dim == (utm.x if name == 'E' else utm.y) and got.values == (5050000.0,)
    assert r.subset_crs.name == 'EPSG:32632' and r.subset_crs.native


@pytest.mark.parametrize('alias', ('time',) + TIME_ALIASES + ('valid_time',))
def test_time_aliases_and_own_dimension_names(alias):
    model = build_model(_geo_ds('valid_time', 'latitude', 'longitude'))
    r = parse({'subset': f'{alias}("2024-07-02"),latitude(41),longitude(11)'}, model)
    assert r.time.name == 'time' and r.time.dim == 'valid_time' and r.time.values == (JUL1 + DAY,)
    assert r.y.dim == 'latitude' and r.x.dim == 'longitude'


def test_unknown_axis_lists_the_valid_names(utm):
    assert 'Lon, Lat, time, pressure, number, band' in refused({'subset': 'depth(10)'}, 'subset')
    refused({'subset': 'E(10)'}, 'subset')                     # projected names on a lon/lat grid
    refused({'subset': 'h(10)'}, 'subset')
    assert 'E, N, Lon, Lat, time' in refused({'subset': 'level(1)'}, 'subset', utm)
    assert refused({'subset': 'time(*)'}, 'subset', build_model(_geo_ds().isel(time=0))).endswith(
        "axes are Lon, Lat, pressure, number, band")


@pytest.mark.parametrize('subset', [
    'Lat(40:42', 'Lat40:42)', 'Lat()', 'Lat(40:41:42)', 'Lat(40,41:42)', 'Lat(a)', 'Lat(40:)', 'Lat(:41)',
    'band("B02)', 'band(B"02")', 'band("B02"x)', 'Lat(40:42),', 'Lat(40:42)Lon(1:2)', 'Lat((40))', '(40)',
    '1lat(40)', 'Lat(40:42),,Lon(1:2)', 'Lon(*)', 'pressure(*,500)', 'Lat(nan)', 'Lat(1e999)', 'time(now)',
    'time("2024-07-01"', 'time("2024-13-01")', 'time("2024-07-01T24:30:00Z")', 'time(2024-07-01T00:00:00)x',
    'Lat(40:41) junk', 'Lat)40(',
])
def test_malformed_subsets_are_refused(subset):
    refused({'subset': subset}, 'subset')


def test_low_above_high_refused_except_across_the_antimeridian(utm):
    crossing = parse({'subset': 'Lon(170:-170)'}).x
    assert crossing.interval == (170.0, -170.0) and crossing.crosses_antimeridian
    assert not parse({'subset': 'Lon(-170:170)'}).x.crosses_antimeridian
    assert parse({'subset': 'Lon(170:190)'}).x.interval == (170.0, 190.0)
    assert parse({'subset': 'Lon(170:-170),Lat(40:41)'}, utm).x.crosses_antimeridian      # CRS84 on a UTM grid
    for subset, model in (('Lat(42:40)', GEO), ('pressure(1000:500)', GEO), ('number(2:1)', GEO),
                          ('time("2024-07-02":"2024-07-01")', GEO), ('E(400000:300000)', utm)):
        assert 'low end' in refused({'subset': subset}, 'subset', model)


@pytest.mark.parametrize('subset', ['Lat(95)', 'Lat(-91:0)', 'Lon(400)', 'Lon(-361:0)'])
def test_geographic_coordinates_out_of_range(subset):
    refused({'subset': subset}, 'subset')


# ---- subset-crs and bbox --------------------------------------------------------------------------------

def test_subset_crs_epsg_4326_takes_the_same_named_values():
    r = parse({'subset': 'Lat(40:42),Lon(10:12)', 'subset-crs': 'http://www.opengis.net/def/crs/EPSG/0/4326'})
    assert r.subset_crs.name == 'EPSG:4326' and r.subset_crs.lat_first and r.subset_crs.native
    assert (r.x.interval, r.y.interval) == ((10.0, 12.0), (40.0, 42.0))


def test_axis_names_pick_the_crs_family_on_a_projected_grid(utm):
    native = parse({'subset': 'E(300000:400000),N(5000000:5050000)'}, utm)
    assert native.subset_crs.name == 'EPSG:32632' and native.subset_crs.native
    assert native.subset_crs.uri == 'http://www.opengis.net/def/crs/EPSG/0/32632'
    lonlat = parse({'subset': 'Lon(8:9),Lat(45:46)'}, utm)
    assert lonlat.subset_crs.name == 'CRS84' and not lonlat.subset_crs.native
    # a subset-crs no subset names an axis of is ignored (draft); the names then say the CRS
    assert parse({'subset': 'Lon(8:9)', 'subset-crs': 'EPSG:32632'}, utm).subset_crs.name == 'CRS84'
    assert parse({'subset': 'E(300000:400000)', 'subset-crs': 'OGC:CRS84'}, utm).subset_crs.name == 'EPSG:32632'
    assert parse({'subset': 'x(300000:400000)', 'subset-crs': '[EPSG:32632]'}, utm).subset_crs.native
    assert 'mixes' in refused({'subset': 'E(300000:400000),Lat(45:46)'}, 'subset', utm)


def test_projected_subset_crs_on_a_lon_lat_grid():
    r = parse({'subset': 'E(1000000:1500000),N(4800000:5000000)', 'subset-crs': 'EPSG:3857'})
    assert r.subset_crs.name == 'EPSG:3857' and not r.subset_crs.native and r.x.interval == (1e6, 1.5e6)


@pytest.mark.parametrize('text', ['EPSG:2154', 'nonsense', 'EPSG:32632', 'http://www.opengis.net/def/crs/EPSG/0/9'])
def test_unknown_subset_crs(text):
    assert 'CRS84, EPSG:4326, EPSG:3857' in refused({'subset': 'Lat(40:41)', 'subset-crs': text}, 'subset-crs')


def test_subset_crs_and_bbox_crs_without_their_parameter_are_ignored():
    assert parse({'subset-crs': 'nonsense', 'bbox-crs': 'nonsense'}).subset_crs is None


def test_bbox_is_a_spatial_trim():
    r = parse({'bbox': '10,40,12,42'})
    s = parse({'subset': 'Lon(10:12),Lat(40:42)'})
    assert (r.x.interval, r.y.interval, r.subset_crs) == (s.x.interval, s.y.interval, s.subset_crs)
    assert r.spatial_from == 'bbox' and r.x.text == 'bbox=10,40,12,42'
    nz = parse({'bbox': '160.6,-55.95,-170,-25.89'})            # the draft's New Zealand example
    assert nz.x.interval == (160.6, -170.0) and nz.x.crosses_antimeridian
    lat_first = parse({'bbox': '40,10,42,12', 'bbox-crs': 'EPSG:4326'})     # EPSG:4326: south,west,north,east
    assert (lat_first.x.interval, lat_first.y.interval) == ((10.0, 12.0), (40.0, 42.0))
    assert lat_first.subset_crs.name == 'EPSG:4326'
    assert parse({'bbox': '1e6,4.8e6,1.5e6,5e6', 'bbox-crs': 'EPSG:3857'}).x.name == 'E'
    assert parse({'bbox': '10,40,12,42', 'subset': 'time(*)'}).time.values == (JUL1 + 2 * DAY,)


def test_bbox_in_the_storage_crs(utm):
    r = parse({'bbox': '300000,5000000,400000,5050000', 'bbox-crs': 'http://www.opengis.net/def/crs/EPSG/0/32632'},
              utm)
    assert r.subset_crs.native and (r.x.name, r.x.interval) == ('E', (300000.0, 400000.0))
    refused({'bbox': '400000,5000000,300000,5050000', 'bbox-crs': 'EPSG:32632'}, 'bbox', utm)


@pytest.mark.parametrize('params, parameter', [
    ({'bbox': '10,40,12,42', 'subset': 'Lat(40:41)'}, 'bbox'),
    ({'bbox': '10,40,12,42', 'subset': 'Lon(10)'}, 'bbox'),
    ({'bbox': '10,40,0,12,42,10'}, 'bbox'),
    ({'bbox': '10,40,12'}, 'bbox'),
    ({'bbox': '10,40,12,north'}, 'bbox'),
    ({'bbox': '10,42,12,40'}, 'bbox'),
    ({'bbox': '10,40,12,95'}, 'bbox'),
    ({'bbox': '10,40,400,42'}, 'bbox'),
    ({'bbox': '10,40,12,42', 'bbox-crs': 'EPSG:9999'}, 'bbox-crs'),
    ({'bbox': ['10,40,12,42', '0,0,1,1']}, 'bbox'),
])
def test_bad_bbox(params, parameter):
    refused(params, parameter)


# ---- datetime -------------------------------------------------------------------------------------------

@pytest.mark.parametrize('text, values, interval', [
    ('2024-07-02T00:00:00Z', (JUL1 + DAY,), None),
    ('2024-07-02', (JUL1 + DAY,), None),
    ('2024-07-01/2024-07-02', None, (JUL1, JUL1 + 2 * DAY - EPS)),
    ('../2024-07-01T12:00:00Z', None, (None, JUL1 + 12 * 3600 + 1 - EPS)),
    ('/2024-07-01T12:00:00.0Z', None, (None, JUL1 + 12 * 3600)),
    ('2024-07-02/..', None, (JUL1 + DAY, None)),
    ('2024-07-02/', None, (JUL1 + DAY, None)),
])
def test_datetime(text, values, interval):
    got = parse({'datetime': text}).time
    assert (got.values, got.interval) == (values, interval) and got.text == f'datetime={text}'


def test_datetime_means_the_same_as_a_time_subset():
    a = parse({'datetime': '2024-07-01/2024-07-31'}).time
    assert a.interval == parse({'subset': 'time("2024-07-01":"2024-07-31")'}).time.interval


@pytest.mark.parametrize('params', [
    {'datetime': '../..'}, {'datetime': '2024-07-02/2024-07-01'}, {'datetime': 'yesterday'},
    {'datetime': '2024-07-01/2024-07-02/2024-07-03'}, {'datetime': '2024-07-01T25:00:00Z'},
    {'datetime': '2024-07-01', 'subset': 'time(*)'}, {'datetime': '2024-07-01', 'subset': 't("2024-07-01")'},
])
def test_bad_datetime(params):
    refused(params, 'datetime')


def test_datetime_on_a_collection_without_time():
    assert 'no time axis' in refused({'datetime': '2024-07-01'}, 'datetime', build_model(_geo_ds().isel(time=0)))


# ---- fields and output CRS -------------------------------------------------------------------------------

def test_properties_keep_their_order():
    assert parse({'properties': 'refl,temp'}).fields == ('refl', 'temp')
    assert parse({'properties': ' precip , temp,precip'}).fields == ('precip', 'temp')
    assert parse({'exclude-properties': 'precip'}).fields == ('temp', 'refl')
    assert parse({'properties': '', 'exclude-properties': ''}).fields == ('temp', 'precip', 'refl')
    assert 'temp, precip, refl' in refused({'properties': 'temp,sst'}, 'properties')
    refused({'exclude-properties': 'sst'}, 'exclude-properties')
    refused({'properties': 'temp', 'exclude-properties': 'refl'}, 'exclude-properties')
    refused({'exclude-properties': 'temp,precip,refl'}, 'exclude-properties')
    refused({'properties': ['temp', 'refl']}, 'properties')


@pytest.mark.parametrize('text, name', [
    ('http://www.opengis.net/def/crs/OGC/1.3/CRS84', 'CRS84'), ('https://www.opengis.net/def/crs/OGC/1.3/CRS84',
                                                                'CRS84'),
    ('[OGC:CRS84]', 'CRS84'), ('OGC:CRS84', 'CRS84'), ('CRS84', 'CRS84'), ('urn:ogc:def:crs:OGC:1.3:CRS84', 'CRS84'),
    ('EPSG:4326', 'EPSG:4326'), ('[EPSG:4326]', 'EPSG:4326'), ('http://www.opengis.net/def/crs/EPSG/0/4326',
                                                                'EPSG:4326'),
    ('https://www.opengis.net/def/crs/EPSG/0/3857', 'EPSG:3857'), ('EPSG:3857', 'EPSG:3857'),
])
def test_output_crs_spellings(text, name):
    assert parse({'crs': text}).crs.name == name


def test_output_crs_defaults_to_the_storage_crs(utm):
    assert parse({}).crs.name == 'CRS84' and parse({}).crs.native
    out = parse({}, utm).crs
    assert (out.name, out.uri, out.native) == ('EPSG:32632', 'http://www.opengis.net/def/crs/EPSG/0/32632', True)
    assert parse({'crs': 'urn:ogc:def:crs:EPSG::32632'}, utm).crs.native
    assert not parse({'crs': 'EPSG:4326'}, utm).crs.native
    assert 'EPSG:32632 (the storage CRS)' in refused({'crs': 'EPSG:2154'}, 'crs', utm)
    refused({'crs': 'EPSG:32632'}, 'crs')
    refused({'crs': 'not a crs'}, 'crs')


# ---- scaling -------------------------------------------------------------------------------------------

@pytest.mark.parametrize('params, mode, x, y, native', [
    ({'resolution': 'Lat(0.5),Lon(0.25)'}, 'resolution', 0.25, 0.5, set()),
    ({'resolution': ''}, 'resolution', None, None, {'x', 'y'}),
    ({'resolution': 'Lat(),Lon(0.5)'}, 'resolution', 0.5, None, {'y'}),
    ({'width': '512', 'height': '256'}, 'size', 512, 256, set()),
    ({'width': '512'}, 'size', 512, None, set()),
    ({'height': ' 64 ', 'width': ''}, 'size', None, 64, set()),
    ({'scale-size': 'Lat(300),Lon(400)'}, 'size', 400, 300, set()),
    ({'scaleSize': 'Lon(256),Lat(256)'}, 'size', 256, 256, set()),
    ({'scaleSize': 'Long(256)'}, 'size', 256, None, set()),
    ({'scale-factor': '2'}, 'factor', 2.0, 2.0, set()),
    ({'scaleFactor': '0.5'}, 'factor', 0.5, 0.5, set()),
    ({'scale-axes': 'Lat(2),Lon(4)'}, 'factor', 4.0, 2.0, set()),
    ({'scaleAxes': 'lat(1)'}, 'factor', None, 1.0, set()),
])
def test_scaling_styles(params, mode, x, y, native):
    s = parse(params).scaling
    assert (s.mode, s.x, s.y, set(s.native)) == (mode, x, y, native)
    assert s.parameters == tuple(p for p in params if params[p].strip() or p == 'resolution')


def test_resolution_axes_follow_the_output_crs(utm):
    assert parse({'resolution': 'E(2000),N(1000)'}, utm).scaling.x == 2000.0
    assert 'E/N' in refused({'resolution': 'Lat(0.1)'}, 'resolution', utm)
    assert parse({'resolution': 'Lat(0.1)', 'crs': 'CRS84'}, utm).scaling.y == 0.1
    refused({'resolution': 'E(1000)'}, 'resolution')
    assert parse({'resolution': 'E(1000)', 'crs': 'EPSG:3857'}).scaling.x == 1000.0
    assert parse({'scaleSize': 'Lon(10),N(20)'}, utm).scaling.y == 20          # sizes name either family


@pytest.mark.parametrize('params, parameter', [
    ({'width': '0'}, 'width'), ({'height': '-1'}, 'height'), ({'width': '1.5'}, 'width'), ({'width': 'a'}, 'width'),
    ({'scale-size': 'Lat(0)'}, 'scale-size'), ({'scale-size': 'Lat(1.5)'}, 'scale-size'),
    ({'scaleSize': 'Lon(-256)'}, 'scaleSize'), ({'scale-factor': '0'}, 'scale-factor'),
    ({'scale-factor': '-2'}, 'scale-factor'), ({'scale-factor': 'two'}, 'scale-factor'),
    ({'scaleFactor': 'inf'}, 'scaleFactor'), ({'scale-axes': 'Lat(0)'}, 'scale-axes'),
    ({'scaleAxes': 'Lat(x)'}, 'scaleAxes'), ({'resolution': 'Lat(-1)'}, 'resolution'),
    ({'resolution': 'Lat(0:1)'}, 'resolution'), ({'resolution': 'Lat(1,2)'}, 'resolution'),
    ({'resolution': 'Lat(*)'}, 'resolution'), ({'scale-size': ''}, None), ({'scale-axes': 'Lat()'}, 'scale-axes'),
    ({'scale-size': 'time(10)'}, 'scale-size'), ({'resolution': 'pressure(100)'}, 'resolution'),
    ({'scaleSize': 'foo(10)'}, 'scaleSize'), ({'scale-size': 'Lat(1),lat(2)'}, 'scale-size'),
    ({'scale-size': 'Lat(1'}, 'scale-size'), ({'width': ['1', '2']}, 'width'),
    ({'width': '10', 'scaleSize': 'Lon(10)'}, 'scaleSize'), ({'resolution': '', 'height': '5'}, 'height'),
    ({'scale-factor': '2', 'scale-axes': 'Lat(2)'}, 'scale-axes'), ({'scale-size': 'Lat(1)', 'scaleSize': 'Lat(1)'},
                                                                    'scaleSize'),
])
def test_bad_scaling(params, parameter):
    if parameter is None:
        assert parse(params).scaling is None                     # given empty: not given
    else:
        refused(params, parameter)


@pytest.mark.parametrize('params, parameter', [
    ({'subset': 'Lat(41)', 'height': '10'}, 'height'),
    ({'subset': 'Lon(11)', 'width': '10', 'height': '10'}, 'width'),
    ({'subset': 'Lat(41)', 'scaleSize': 'Lon(10),Lat(10)'}, 'scaleSize'),
    ({'subset': 'Lat(40,41)', 'scale-axes': 'Lat(2)'}, 'scale-axes'),
    ({'subset': 'Lat(41)', 'resolution': 'Lat()'}, 'resolution'),
    ({'subset': 'Lat(41)', 'resolution': 'Lat(0.1),Lon(0.1)'}, 'resolution'),
])
def test_slicing_and_scaling_the_same_axis_is_refused(params, parameter):
    assert 'slicing and scaling' in refused(params, parameter)


def test_scaling_other_axes_than_the_sliced_one():
    assert parse({'subset': 'Lat(41)', 'width': '10'}).scaling.x == 10
    assert parse({'subset': 'Lat(40:42)', 'height': '10'}).scaling.y == 10              # trimming scales
    s = parse({'subset': 'Lat(41)', 'scale-factor': '2'}).scaling
    assert (s.x, s.y) == (2.0, None)                   # one factor for every axis: the sliced one is left out
    assert parse({'subset': 'Lat(41)', 'resolution': ''}).scaling.native == {'x'}      # native wherever it applies


@pytest.mark.parametrize('prefer, strict', [
    (None, False), ('', False), ('handling=strict', True), ('handling=lenient', False), ('Handling = "STRICT"', True),
    ('respond-async, handling=strict; foo=bar, wait=5', True), ('handling=whatever', False),
    ('return=minimal', False),
])
def test_prefer_handling(prefer, strict):
    assert parse_prefer(prefer) is strict
    assert parse({}, prefer=prefer).strict is strict


# ---- what clients send ---------------------------------------------------------------------------------

def _query(url: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        out.setdefault(key, []).append(value)
    return out


def test_owslib_form(monkeypatch):
    import requests
    from owslib.ogcapi.coverages import Coverages
    sent = []

    class Answer:
        status_code, headers, content = 200, {}, b''

        def __init__(self, url):
            self.url = url

        def __bool__(self):
            return True

    def fake_get(url, **kwargs):
        prepared = requests.Request('GET', url, params=kwargs.get('params')).prepare()
        sent.append(prepared.url)
        return Answer(prepared.url)

    monkeypatch.setattr(requests, 'get', fake_get)
    client = Coverages('http://kazarr.test', json_='{}')
    client.coverage('c', subset=[('Lat', 40, 42), ('Lon', 10, 12)], properties=['temp', 'precip'],
                    scale_factor=2, datetime='2024-07-01/2024-07-02')
    client.coverage('c', subset={'time': ('2024-07-01T00:00:00Z', '2024-07-02T00:00:00Z')},
                    scale_size={'Lat': 20, 'Lon': 40})
    first, second = (_query(url) for url in sent)
    assert first['subset'] == ['Lat(40:42),Lon(10:12)']            # one comma-joined subset
    r = parse(first)
    assert (r.y.interval, r.x.interval, r.fields) == ((40.0, 42.0), (10.0, 12.0), ('temp', 'precip'))
    assert (r.scaling.mode, r.scaling.x, r.time.interval) == ('factor', 2.0, (JUL1, JUL1 + 2 * DAY - EPS))
    r = parse(second)
    assert r.time.interval == (JUL1, JUL1 + DAY + 1 - EPS) and (r.scaling.x, r.scaling.y) == (40, 20)


@pytest.mark.parametrize('query, x, y, size', [
    ('subset=Lon(10:12.5),Lat(40:42)&scaleSize=Lon(256),Lat(128)', (10.0, 12.5), (40.0, 42.0), (256, 128)),
    ('subset=Lon(-180:-90),Lat(0:90)&scaleSize=Lon(256),Lat(256)&crs=http://www.opengis.net/def/crs/OGC/1.3/CRS84',
     (-180.0, -90.0), (0.0, 90.0), (256, 256)),
    ('subset=Lon(10.000000000000002:1.25e1),Lat(-1.5e-05:42)&scaleSize=Lon(1),Lat(1)', (10.000000000000002, 12.5),
     (-1.5e-05, 42.0), (1, 1)),
    ('bbox=10,40,12,42&scaleSize=Lat(128),Long(256)', (10.0, 12.0), (40.0, 42.0), (256, 128)),   # no domainset
])
def test_gdal_form(query, x, y, size):
    r = parse(_query('http://kazarr.test/collections/c/coverage?' + query))
    assert (r.x.interval, r.y.interval, (r.scaling.x, r.scaling.y)) == (x, y, size)
    assert r.scaling.mode == 'size' and r.subset_crs.name == 'CRS84' and r.crs.name == 'CRS84'


def test_gdal_form_on_a_projected_grid_answers_lon_lat(utm):
    query = 'subset=Lon(7.5:8.5),Lat(45.5:46)&scaleSize=Lon(256),Lat(256)&crs=' \
            'http://www.opengis.net/def/crs/OGC/1.3/CRS84'
    r = parse(_query('http://kazarr.test/c?' + query), utm)
    assert r.subset_crs.name == r.crs.name == 'CRS84' and not r.crs.native and r.scaling.x == 256


# ---- the request and the declarations ---------------------------------------------------------------

def test_the_request_is_frozen():
    r = parse({'subset': 'Lat(40:41),number(1)'})
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.x = None
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.y.interval = (0, 1)
    with pytest.raises(TypeError):
        r.custom['number'] = None


VALID = {'properties': 'temp', 'exclude-properties': 'temp', 'bbox-crs': 'EPSG:4326', 'subset-crs': 'EPSG:4326'}


@pytest.mark.parametrize('name', QUERY_PARAMS)
def test_documented_examples_match_their_pattern_and_parse(name):
    param = DECLARED[name]
    if param.pattern:
        assert re.search(param.pattern, param.example), (name, param.example)
    params = Recording({name: VALID.get(name, param.example)})
    if name in ('subset-crs', 'bbox-crs'):
        params.update({'subset': 'Lat(40:41)', 'bbox': '40,10,41,11'} if name == 'bbox-crs' else
                      {'subset': 'Lat(40:41)'})
        params.pop('subset' if name == 'bbox-crs' else 'bbox', None)
    parse(params)


def test_the_parser_reads_only_declared_parameters():
    params = Recording({'subset': 'Lat(40:41)', 'f': 'json', 'unknown': 'x'})
    parse(params)
    assert params.asked <= set(QUERY_PARAMS) and 'subset' in params.asked
    assert set(SCALING_PARAMETERS) <= set(QUERY_PARAMS) and DECLARED['Prefer'].header


def test_subset_pattern_accepts_the_grammar():
    pattern = DECLARED['subset'].pattern
    for text in ('Lat(40:42),Lon(10:*)', 'time("2024-07-01":"2024-07-31")', 'pressure(200,300,500)', 'time(*)',
                 'band("B02", "B03")', 'Lat(-1.5e-05:4)'):
        assert re.search(pattern, text), text
    for text in ('Lat(40:42', 'Lat()', 'Lat(1:2:3)', '(1)'):
        assert not re.search(pattern, text), text


def test_vertical_aliases_give_way_to_a_dimension_of_that_name():
    ds = _geo_ds().rename({'number': 'z'})
    model = build_model(ds)
    assert VERTICAL_ALIASES[0] == 'z'
    r = parse({'subset': 'z(1)'}, model)
    assert r.vertical is None and r.custom['z'].values == (1.0,)


def test_curvilinear_grids_take_lon_lat_not_their_index_dimensions():
    lon, lat = demo.rotated_lonlat()
    model = build_model(xr.Dataset(
        {'thetao': (('nj', 'ni'), demo.lonlat_field(lon, lat), {'coordinates': 'lon lat'})},
        coords={'lon': (('nj', 'ni'), lon, {'standard_name': 'longitude', 'units': 'degrees_east'}),
                'lat': (('nj', 'ni'), lat, {'standard_name': 'latitude', 'units': 'degrees_north'})}))
    assert model.curvilinear is not None
    r = parse({'subset': 'Lon(-160:-150),Lat(30:40)'}, model)
    assert (r.x.dim, r.y.dim, r.subset_crs.name, r.crs.name) == ('ni', 'nj', 'CRS84', 'CRS84')
    assert refused({'subset': 'ni(3)'}, 'subset', model).endswith('axes are Lon, Lat')
