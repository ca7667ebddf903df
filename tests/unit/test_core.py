"""The pure core, without HTTP: axis look-ups, parsing, selection, catalogue."""
from __future__ import annotations

import os
import time

import numpy as np
import orjson
import pytest
import xarray as xr

from helpers import check
from kazarr_provider import demo
from kazarr_provider.data.catalogue import collection_id, discover, get_dataset
from kazarr_provider.core.axes import find_axes
from kazarr_provider.core.coords import Axis, LonAxis, cell_edges
from kazarr_provider.core.select.dispatch import select
from kazarr_provider.api.edr.parse import parse_query
from kazarr_provider.api.params import parse_bbox, parse_datetime, parse_levels
from kazarr_provider.errors import InvalidParameter, NoData, TooLarge
from kazarr_provider.formats import to_covjson


def test_descending_axis_nearest_and_outside():
    axis = Axis(np.linspace(90, -90, 73))
    assert axis.nearest([44.0, 45.0, 46.2, -90.0, 90.0]).tolist() == [18, 18, 18, 72, 0]
    assert axis.nearest([91.3]).tolist() == [-1]          # beyond the half-cell edge at 91.25
    assert axis.between(40, 50).tolist() == [16, 17, 18, 19, 20]


def test_time_axis_is_bounded_by_first_and_last_step():
    axis = Axis(np.array([0.0, 6.0, 12.0]), bounded_by_edges=False)
    assert axis.nearest([2.9, 3.1, 12.0, 12.1, -0.1]).tolist() == [0, 1, 2, -1, -1]


def test_float32_coordinates_edges_use_float64_step():
    values = (np.arange(36000) * 0.01 - 179.995).astype('float32').astype('float64')
    edges = cell_edges(values)
    assert edges[0] == pytest.approx(-180.0, abs=2e-5) and edges[-1] == pytest.approx(180.0, abs=2e-5)
    assert np.allclose(np.diff(edges), np.diff(edges).mean(), rtol=0, atol=1e-9)


def test_lon_axis_folds_both_conventions():
    east = LonAxis(np.arange(144) * 2.5)                      # 0 .. 357.5
    assert east.is_global
    assert east.nearest([-10.0, 350.0, 359.0, -0.9]).tolist() == [140, 140, 0, 0]
    west = LonAxis(np.arange(-180, 180, 5.0) + 2.5)             # -177.5 .. 177.5
    assert west.nearest([352.0]).tolist() == [34]               # -8 -> -7.5
    regional = LonAxis(np.arange(10.0, 20.0, 1.0))
    assert regional.nearest([370.0, 25.0, -345.0]).tolist() == [0, -1, 5]


def test_antimeridian_range_is_unwrapped_and_monotonic():
    axis = LonAxis(np.arange(144) * 2.5)
    index, lon = axis.between_wrapped(170, -170)
    assert lon.tolist() == [170.0 + 2.5 * i for i in range(9)]
    assert index.tolist() == [68, 69, 70, 71, 72, 73, 74, 75, 76]
    index, lon = axis.between_wrapped(-5, 5)
    assert lon.tolist() == [-5.0, -2.5, 0.0, 2.5, 5.0]
    assert index.tolist() == [142, 143, 0, 1, 2]


def test_parse_datetime_and_levels():
    assert parse_datetime('2024-01-01T06:00:00Z').values[0] == 1704088800.0
    assert parse_datetime('2024-01-01T07:00:00+01:00').values[0] == 1704088800.0
    assert parse_datetime('../2024-01-01T00:00:00Z').interval == (None, 1704067200.0)
    assert parse_levels('R4/1000/-100').values.tolist() == [1000, 900, 800, 700]
    assert parse_levels('550/100').interval == (100, 550)
    with pytest.raises(InvalidParameter):
        parse_levels('R0/1/1')
    assert parse_bbox('0,1,2,3,4,5')[0] == (0, 1, 3, 4)
    with pytest.raises(InvalidParameter):
        parse_bbox('0,nan,2,3')


def test_axes_recognised_by_cf_attributes_not_names():
    ds = xr.Dataset(
        {'v': (('a', 'b', 'c'), np.zeros((2, 3, 4)))},
        coords={'a': ('a', [1000.0, 500.0], {'units': 'hPa'}),
                'b': ('b', [10.0, 20.0, 30.0], {'units': 'degrees_north'}),
                'c': ('c', [0.0, 1.0, 2.0, 3.0], {'axis': 'X'})})
    assert find_axes(ds) == {'z': 'a', 'y': 'b', 'x': 'c'}


def test_collection_ids_are_url_safe():
    assert collection_id('era5/pl 2024.zarr') == 'era5.pl_2024'
    assert collection_id('a/b/c.ZARR') == 'a.b.c'
    assert '/' not in collection_id('../../etc.zarr') and '..' not in collection_id('../../etc.zarr')


def test_discover_nested_and_skip_non_stores(tmp_path):
    demo.make_sst(str(tmp_path / 'x' / 'y' / 'deep.zarr'))
    (tmp_path / 'notzarr').mkdir()
    found = discover(tmp_path)
    assert list(found) == ['x.y.deep']
    assert str(found['x.y.deep'][0]) == str(tmp_path / 'x' / 'y' / 'deep.zarr')


def test_dataset_opened_once_and_reopened_when_rewritten(tmp_path):
    path = str(tmp_path / 's.zarr')
    demo.make_sst(path)
    first = get_dataset(path)
    assert get_dataset(path) is first
    time.sleep(0.01)
    demo.make_era5(path, zarr_format=2)
    os.utime(os.path.join(path, '.zmetadata'))
    second = get_dataset(path)
    assert second is not first and 't' in second.model.variables


@pytest.fixture(scope='module')
def era5(tmp_path_factory):
    path = tmp_path_factory.mktemp('core') / 'era5.zarr'
    demo.make_era5(str(path))
    return get_dataset(str(path))


def run(opened, query_type, limit=10**7, **params):
    query = parse_query(query_type, params, opened.model)
    document = to_covjson.build(select(opened.ds, opened.model, query, limit), opened.model, query.multi)
    return check(orjson.loads(to_covjson.encode(document)))


def test_core_cube_matches_formula(era5):
    doc = run(era5, 'cube', bbox='-20,-10,20,10', datetime='2024-01-01T18:00:00Z', z='300',
              **{'parameter-name': 'u'})
    lon = np.array(doc['domain']['axes']['x']['values'])
    lat = np.array(doc['domain']['axes']['y']['values'])
    values = np.array(doc['ranges']['u']['values']).reshape(doc['ranges']['u']['shape'])
    assert lon[0] == -20.0 and lon[-1] == 20.0 and lat[0] == 10.0 and lat[-1] == -10.0
    np.testing.assert_allclose(values[0, 0], demo.era5_wind(lon[None, :], lat[:, None], 300.0, 18.0), atol=1e-4)


def test_core_reads_only_needed_values_and_refuses_oversize(era5):
    with pytest.raises(TooLarge) as error:
        run(era5, 'cube', limit=1000, bbox='-180,-90,180,90', **{'parameter-name': 't'})
    assert '1,000' in error.value.description


def test_core_no_data_outside(era5):
    with pytest.raises(NoData):
        run(era5, 'position', coords='POINT(0 0)', datetime='2030-01-01T00:00:00Z')


@pytest.mark.parametrize('calendar, asked, day_index, shown', [
    ('360_day', '2000-02-30T00:00:00Z', 59, '2000-02-30T00:00:00Z'),
    ('noleap', '2000-03-01T10:00:00Z', 59, '2000-03-01T00:00:00Z'),
])
def test_non_standard_calendars(tmp_path, calendar, asked, day_index, shown):
    import cftime
    days = np.arange(90)
    times = cftime.num2date(days, 'days since 2000-01-01', calendar=calendar)
    ds = xr.Dataset({'v': (('time', 'lat', 'lon'), np.broadcast_to(days[:, None, None] * 1.0, (90, 2, 2)).copy(),
                           {'units': '1'})},
                    coords={'time': ('time', times), 'lat': ('lat', [0.0, 1.0], {'units': 'degrees_north'}),
                            'lon': ('lon', [0.0, 1.0], {'units': 'degrees_east'})})
    path = str(tmp_path / f'{calendar}.zarr')
    ds.to_zarr(path, encoding={'time': {'units': 'days since 2000-01-01', 'calendar': calendar}})
    opened = get_dataset(path)
    assert opened.model.calendar == calendar
    doc = run(opened, 'position', coords='POINT(0 0)', datetime=asked)
    assert doc['domain']['axes']['t']['values'] == [shown]
    assert doc['ranges']['v']['values'] == [float(day_index)]
    assert doc['domain']['referencing'][-1]['system']['calendar'].endswith(calendar)
    if calendar == 'noleap':
        with pytest.raises(InvalidParameter):
            run(opened, 'position', coords='POINT(0 0)', datetime='2000-02-29T00:00:00Z')


def test_a_date_the_calendar_lacks_is_named_as_such():
    from kazarr_provider.api.params import parse_datetime
    from kazarr_provider.errors import InvalidParameter
    with pytest.raises(InvalidParameter, match='not a date of the dataset.s noleap calendar'):
        parse_datetime('2000-02-29T00:00:00Z', 'noleap')
    assert parse_datetime('2000-02-30T00:00:00Z', '360_day').values.size == 1     # 360-day months have a 30th
    with pytest.raises(InvalidParameter, match='malformed'):
        parse_datetime('2000-13-45', 'noleap')
